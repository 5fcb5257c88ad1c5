output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "IPv4 CIDR block of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "availability_zones" {
  description = "Availability zones the subnets were created in, in input order."
  value       = var.availability_zones
}

output "public_subnet_ids" {
  description = "IDs of the public subnets, in the order of var.availability_zones."
  value       = [for az in var.availability_zones : module.public_subnet[az].subnet_id]
}

output "private_subnet_ids" {
  description = "IDs of the private subnets, in the order of var.availability_zones."
  value       = [for az in var.availability_zones : module.private_subnet[az].subnet_id]
}

output "public_subnet_cidr_blocks" {
  description = "CIDR blocks of the public subnets, in the order of var.availability_zones."
  value       = [for az in var.availability_zones : module.public_subnet[az].cidr_block]
}

output "private_subnet_cidr_blocks" {
  description = "CIDR blocks of the private subnets, in the order of var.availability_zones."
  value       = [for az in var.availability_zones : module.private_subnet[az].cidr_block]
}

output "public_route_table_ids" {
  description = "IDs of the public subnets' route tables, in the order of var.availability_zones."
  value       = [for az in var.availability_zones : module.public_subnet[az].route_table_id]
}

output "private_route_table_ids" {
  description = "IDs of the private subnets' route tables, in the order of var.availability_zones."
  value       = [for az in var.availability_zones : module.private_subnet[az].route_table_id]
}

output "internet_gateway_id" {
  description = "ID of the internet gateway."
  value       = aws_internet_gateway.this.id
}

output "nat_gateway_id" {
  description = "ID of the NAT gateway, or null when enable_nat_gateway is false."
  value       = one(aws_nat_gateway.this[*].id)
}

output "nat_public_ip" {
  description = "Public IP address of the NAT gateway, or null when enable_nat_gateway is false."
  value       = one(aws_eip.nat[*].public_ip)
}
