# The stack's identity; values are in terraform.tfvars, written by `scaffold new`.

variable "site_name" {
  description = "Name of the site."
  type        = string
}

variable "environment" {
  description = "Environment of the site: dev, staging or prod."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be dev, staging or prod."
  }
}

variable "team" {
  description = "Team that owns the site; used as the owner tag."
  type        = string
}

variable "region" {
  description = "AWS region of the site's bucket."
  type        = string
}
