variable "name" {
  description = "Name of the job; used for the Lambda function, the schedule, the IAM roles and the log group."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9][a-zA-Z0-9_-]{0,45}$", var.name))
    error_message = "name must be 1-46 characters of letters, digits, hyphens and underscores."
  }
}

variable "image_uri" {
  description = "ECR image URI of the function, e.g. \"123456789012.dkr.ecr.eu-central-1.amazonaws.com/nightly-report:2024-06-01\"."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?/.+(:.+|@sha256:[0-9a-f]{64})$", var.image_uri))
    error_message = "image_uri must be an ECR image URI with a tag or digest (Lambda only runs images from ECR)."
  }
}

variable "schedule_expression" {
  description = "When to run, as an EventBridge Scheduler expression: \"cron(minutes hours day-of-month month day-of-week year)\" or \"rate(value unit)\"."
  type        = string

  validation {
    condition     = can(regex("^(cron\\(\\S+( \\S+){5}\\)|rate\\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\\))$", var.schedule_expression))
    error_message = "schedule_expression must be a cron expression with six fields, e.g. \"cron(0 3 * * ? *)\", or a rate expression, e.g. \"rate(1 hour)\"."
  }
}

variable "schedule_timezone" {
  description = "IANA time zone the cron expression is evaluated in, e.g. \"Europe/Berlin\"."
  type        = string
  default     = "UTC"
}

variable "enabled" {
  description = "Whether the schedule is enabled. Disabling it keeps the function but stops the invocations."
  type        = bool
  default     = true
}

variable "flexible_time_window_minutes" {
  description = "Let the scheduler invoke the job up to this many minutes late to spread load; 0 runs it exactly on time."
  type        = number
  default     = 0

  validation {
    condition     = var.flexible_time_window_minutes >= 0 && var.flexible_time_window_minutes <= 1440
    error_message = "flexible_time_window_minutes must be between 0 and 1440."
  }
}

variable "input" {
  description = "JSON event payload passed to the function on every invocation."
  type        = string
  default     = "{}"

  validation {
    condition     = can(jsondecode(var.input))
    error_message = "input must be valid JSON."
  }
}

variable "timeout" {
  description = "Maximum run time of one invocation, in seconds."
  type        = number
  default     = 300

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900
    error_message = "timeout must be between 1 and 900 seconds."
  }
}

variable "memory_size" {
  description = "Memory of the function in MB (CPU scales with it)."
  type        = number
  default     = 512

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240
    error_message = "memory_size must be between 128 and 10240 MB."
  }
}

variable "architecture" {
  description = "Instruction set of the image: \"x86_64\" or \"arm64\"."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be \"x86_64\" or \"arm64\"."
  }
}

variable "environment" {
  description = "Environment variables of the function."
  type        = map(string)
  default     = {}
}

variable "image_config" {
  description = "Overrides of the image's ENTRYPOINT, CMD and WORKDIR."
  type = object({
    entry_point       = optional(list(string))
    command           = optional(list(string))
    working_directory = optional(string)
  })
  default = {}
}

variable "retry_policy" {
  description = "How EventBridge Scheduler retries failed invocations."
  type = object({
    maximum_retry_attempts       = optional(number, 2)
    maximum_event_age_in_seconds = optional(number, 3600)
  })
  default = {}

  validation {
    condition     = var.retry_policy.maximum_retry_attempts >= 0 && var.retry_policy.maximum_retry_attempts <= 185 && var.retry_policy.maximum_event_age_in_seconds >= 60 && var.retry_policy.maximum_event_age_in_seconds <= 86400
    error_message = "maximum_retry_attempts must be 0-185 and maximum_event_age_in_seconds 60-86400."
  }
}

variable "vpc_config" {
  description = "Run the function inside a VPC (e.g. to reach a database). Null runs it outside any VPC."
  type = object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  })
  default = null
}

variable "policy_arns" {
  description = "Additional IAM policy ARNs to attach to the function's role (what the job itself may do)."
  type        = list(string)
  default     = []
}

variable "log_retention_days" {
  description = "Retention of the function's logs in CloudWatch Logs, in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention period CloudWatch Logs supports (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "tags" {
  description = "Tags added to every resource created by this module that supports tags."
  type        = map(string)
  default     = {}
}
