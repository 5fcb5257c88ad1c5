variable "identifier" {
  description = "Identifier of the DB instance; also names the subnet group, security group and parameter group."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,52}[a-z0-9]$", var.identifier)) && !strcontains(var.identifier, "--")
    error_message = "identifier must be 2-54 characters of lowercase letters, digits and hyphens, start with a letter, not end with a hyphen and not contain two consecutive hyphens."
  }
}

variable "engine_version" {
  description = "PostgreSQL version: a major version (\"16\", minor upgrades are then automatic) or major.minor (\"16.4\")."
  type        = string
  default     = "16"

  validation {
    condition     = can(regex("^(1[2-9]|[2-9][0-9])(\\.[0-9]+)?$", var.engine_version))
    error_message = "engine_version must look like \"16\" or \"16.4\" (PostgreSQL 12 or later)."
  }
}

variable "instance_class" {
  description = "RDS instance class, e.g. \"db.t4g.micro\" or \"db.m7g.large\"."
  type        = string
  default     = "db.t4g.micro"

  validation {
    condition     = startswith(var.instance_class, "db.")
    error_message = "instance_class must start with \"db.\"."
  }
}

variable "allocated_storage" {
  description = "Initial storage in GiB (gp3)."
  type        = number
  default     = 20

  validation {
    condition     = var.allocated_storage >= 20 && var.allocated_storage <= 65536
    error_message = "allocated_storage must be between 20 and 65536 GiB."
  }
}

variable "max_allocated_storage" {
  description = "Upper limit in GiB for storage autoscaling; 0 disables autoscaling."
  type        = number
  default     = 0

  validation {
    condition     = var.max_allocated_storage == 0 || var.max_allocated_storage > var.allocated_storage
    error_message = "max_allocated_storage must be 0 (disabled) or larger than allocated_storage."
  }
}

variable "multi_az" {
  description = "Run a synchronous standby in a second availability zone."
  type        = bool
  default     = false
}

variable "backup_retention_period" {
  description = "Days to keep automated backups (0 disables them, which also disables point-in-time recovery)."
  type        = number
  default     = 7

  validation {
    condition     = var.backup_retention_period >= 0 && var.backup_retention_period <= 35
    error_message = "backup_retention_period must be between 0 and 35 days."
  }
}

variable "vpc_id" {
  description = "ID of the VPC to create the security group in (the VPC of subnet_ids)."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets for the DB subnet group; at least two, in different availability zones."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "A DB subnet group needs at least two subnets in different availability zones."
  }
}

variable "allowed_security_group_ids" {
  description = "Security groups whose members may connect to PostgreSQL (e.g. the service module's security_group_id)."
  type        = list(string)
  default     = []
}

variable "database_name" {
  description = "Name of the database created in the instance."
  type        = string
  default     = "app"

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9_]{0,62}$", var.database_name))
    error_message = "database_name must start with a letter and contain only letters, digits and underscores (max 63 characters)."
  }
}

variable "master_username" {
  description = "Username of the master user."
  type        = string
  default     = "app_admin"

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9_]{0,62}$", var.master_username)) && !contains(["postgres", "admin", "rdsadmin"], lower(var.master_username))
    error_message = "master_username must start with a letter, contain only letters, digits and underscores, and not be a reserved name."
  }
}

variable "master_password" {
  description = "Password of the master user (8-128 printable ASCII characters except /, \", @ and space). Stored in state; prefer a secret from a vault."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.master_password) >= 8 && length(var.master_password) <= 128 && can(regex("^[!#-.0-?A-~]+$", var.master_password))
    error_message = "master_password must be 8-128 printable ASCII characters and must not contain /, \", @ or spaces."
  }
}

variable "parameters" {
  description = "Extra PostgreSQL parameters for the parameter group, keyed by parameter name. Static parameters need apply_method = \"pending-reboot\"."
  type = map(object({
    value        = string
    apply_method = optional(string, "immediate")
  }))
  default = {}

  validation {
    condition     = alltrue([for p in values(var.parameters) : contains(["immediate", "pending-reboot"], p.apply_method)])
    error_message = "apply_method must be \"immediate\" or \"pending-reboot\"."
  }
}

variable "deletion_protection" {
  description = "Prevent the instance from being deleted. Set to false (and apply) before destroying."
  type        = bool
  default     = true
}

variable "skip_final_snapshot" {
  description = "Skip the final snapshot on deletion. Keep false for anything holding real data."
  type        = bool
  default     = false
}

variable "apply_immediately" {
  description = "Apply modifications immediately instead of in the next maintenance window."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource created by this module."
  type        = map(string)
  default     = {}
}
