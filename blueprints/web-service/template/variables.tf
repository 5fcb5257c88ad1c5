# The stack's identity. Values are in terraform.tfvars, written by `scaffold new`; the database
# password (var.db_password) is declared in secrets.tf and never written to disk.

variable "service_name" {
  description = "Name of the service; with the environment it names every resource."
  type        = string
}

variable "environment" {
  description = "Environment the stack deploys: dev, staging or prod."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be dev, staging or prod."
  }
}

variable "team" {
  description = "Team that owns the service; used as the owner tag."
  type        = string
}

variable "region" {
  description = "AWS region the service runs in."
  type        = string
}
