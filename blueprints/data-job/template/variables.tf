# The stack's identity; values are in terraform.tfvars, written by `scaffold new`.

variable "job_name" {
  description = "Name of the job."
  type        = string
}

variable "environment" {
  description = "Environment of the job: dev, staging or prod."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be dev, staging or prod."
  }
}

variable "team" {
  description = "Team that owns the job; used as the owner tag."
  type        = string
}

variable "region" {
  description = "AWS region the job runs in."
  type        = string
}

variable "alarm_actions" {
  description = "ARNs notified when the error alarm fires or recovers (e.g. an SNS topic of the on-call rotation)."
  type        = list(string)
  default     = []
}
