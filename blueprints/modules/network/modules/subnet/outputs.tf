output "subnet_id" {
  description = "ID of the subnet."
  value       = aws_subnet.this.id
}

output "subnet_arn" {
  description = "ARN of the subnet."
  value       = aws_subnet.this.arn
}

output "cidr_block" {
  description = "IPv4 CIDR block of the subnet."
  value       = aws_subnet.this.cidr_block
}

output "availability_zone" {
  description = "Availability zone of the subnet."
  value       = aws_subnet.this.availability_zone
}

output "route_table_id" {
  description = "ID of the subnet's dedicated route table."
  value       = aws_route_table.this.id
}
