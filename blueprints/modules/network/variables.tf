variable "name" {
  description = "Name prefix for every resource created by this module (e.g. \"checkout-prod\")."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,46}[a-z0-9]$", var.name))
    error_message = "name must be 2-48 characters of lowercase letters, digits and hyphens, and must not start or end with a hyphen."
  }
}

variable "cidr_block" {
  description = "IPv4 CIDR block of the VPC. Subnets are carved out of it with cidrsubnet()."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.cidr_block, 0)) && can(regex("^[0-9.]+/[0-9]+$", var.cidr_block))
    error_message = "cidr_block must be a valid IPv4 CIDR block, e.g. \"10.0.0.0/16\"."
  }
}

variable "availability_zones" {
  description = "Availability zones to spread the subnets over. One public and one private subnet is created in each zone."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) >= 1 && length(var.availability_zones) <= 6
    error_message = "Specify between 1 and 6 availability zones."
  }

  validation {
    condition     = length(distinct(var.availability_zones)) == length(var.availability_zones)
    error_message = "availability_zones must not contain duplicates."
  }
}

variable "subnet_newbits" {
  description = "Number of additional prefix bits for each subnet (e.g. 8 turns a /16 VPC into /24 subnets)."
  type        = number
  default     = 8

  validation {
    condition     = var.subnet_newbits >= 1 && var.subnet_newbits <= 12 && floor(var.subnet_newbits) == var.subnet_newbits
    error_message = "subnet_newbits must be a whole number between 1 and 12."
  }
}

variable "enable_nat_gateway" {
  description = "Create a single NAT gateway (in the first public subnet) and route the private subnets' internet traffic through it."
  type        = bool
  default     = false
}

variable "enable_dns_hostnames" {
  description = "Enable DNS hostnames in the VPC (required for e.g. RDS endpoints and VPC interface endpoints)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags added to every resource created by this module."
  type        = map(string)
  default     = {}
}
