variable "name" {
  description = "Value of the Name tag for the subnet and its route table."
  type        = string
}

variable "vpc_id" {
  description = "ID of the VPC to create the subnet in."
  type        = string
}

variable "cidr_block" {
  description = "IPv4 CIDR block of the subnet; must lie inside the VPC's CIDR block."
  type        = string

  validation {
    condition     = can(cidrhost(var.cidr_block, 0))
    error_message = "cidr_block must be a valid IPv4 CIDR block."
  }
}

variable "availability_zone" {
  description = "Availability zone of the subnet, e.g. \"eu-central-1a\"."
  type        = string
}

variable "public" {
  description = "Whether instances launched in the subnet receive a public IPv4 address by default."
  type        = bool
  default     = false
}

variable "default_route" {
  description = <<-EOT
    Where the route table sends 0.0.0.0/0. `via` is one of "internet_gateway", "nat_gateway" or "none";
    `id` is the ID of the gateway and must be set unless `via` is "none". `via` must be known at plan time.
  EOT
  type = object({
    via = string
    id  = optional(string)
  })
  default = {
    via = "none"
  }

  validation {
    condition     = contains(["internet_gateway", "nat_gateway", "none"], var.default_route.via)
    error_message = "default_route.via must be one of \"internet_gateway\", \"nat_gateway\" or \"none\"."
  }

  validation {
    condition     = var.default_route.via == "none" || var.default_route.id != null
    error_message = "default_route.id is required unless default_route.via is \"none\"."
  }
}

variable "tags" {
  description = "Tags added to every resource created by this module."
  type        = map(string)
  default     = {}
}
