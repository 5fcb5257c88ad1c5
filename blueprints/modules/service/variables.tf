variable "name" {
  description = "Name of the service. Used for the ECS service, task family, load balancer, target group and log group."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,27}[a-z0-9]$", var.name))
    error_message = "name must be 2-29 characters of lowercase letters, digits and hyphens, start with a letter and not end with a hyphen (load balancer names are limited to 32 characters)."
  }
}

variable "cluster_arn" {
  description = "ARN of the ECS cluster the service runs in."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-zA-Z-]*:ecs:[a-z0-9-]+:[0-9]{12}:cluster/.+$", var.cluster_arn))
    error_message = "cluster_arn must be an ECS cluster ARN (arn:aws:ecs:<region>:<account>:cluster/<name>)."
  }
}

variable "vpc_id" {
  description = "ID of the VPC the load balancer, target group and security groups are created in."
  type        = string
}

variable "public_subnet_ids" {
  description = "Subnets for the internet-facing Application Load Balancer (at least two, in different AZs)."
  type        = list(string)

  validation {
    condition     = length(var.public_subnet_ids) >= 2
    error_message = "An Application Load Balancer needs at least two subnets in different availability zones."
  }
}

variable "private_subnet_ids" {
  description = "Subnets the Fargate tasks run in. They need a route to ECR and CloudWatch Logs (NAT gateway or VPC endpoints)."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 1
    error_message = "Specify at least one subnet for the tasks."
  }
}

variable "container_image" {
  description = "Container image to run, e.g. \"123456789012.dkr.ecr.eu-central-1.amazonaws.com/checkout:1.4.2\"."
  type        = string

  validation {
    condition     = length(trimspace(var.container_image)) > 0
    error_message = "container_image must not be empty."
  }
}

variable "cpu" {
  description = "CPU units for the task (1024 = 1 vCPU). One of the Fargate sizes: 256, 512, 1024, 2048, 4096, 8192, 16384."
  type        = number
  default     = 256

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.cpu)
    error_message = "cpu must be one of 256, 512, 1024, 2048, 4096, 8192 or 16384."
  }
}

variable "memory" {
  description = "Memory for the task in MiB. Must be a valid Fargate combination with cpu (e.g. 256 CPU: 512, 1024 or 2048)."
  type        = number
  default     = 512

  validation {
    condition     = var.memory >= 512 && var.memory <= 122880 && var.memory % 512 == 0
    error_message = "memory must be a multiple of 512 between 512 and 122880 MiB."
  }
}

variable "container_port" {
  description = "Port the container listens on for HTTP traffic."
  type        = number
  default     = 8080

  validation {
    condition     = var.container_port >= 1 && var.container_port <= 65535 && floor(var.container_port) == var.container_port
    error_message = "container_port must be a whole number between 1 and 65535."
  }
}

variable "desired_count" {
  description = "Number of tasks to keep running."
  type        = number
  default     = 2

  validation {
    condition     = var.desired_count >= 0 && floor(var.desired_count) == var.desired_count
    error_message = "desired_count must be a non-negative whole number."
  }
}

variable "environment" {
  description = "Plain-text environment variables for the container. Do not put secrets here; they end up in the task definition."
  type        = map(string)
  default     = {}
}

variable "health_check_path" {
  description = "HTTP path the load balancer polls to decide whether a task is healthy."
  type        = string
  default     = "/health"

  validation {
    condition     = startswith(var.health_check_path, "/")
    error_message = "health_check_path must start with \"/\"."
  }
}

variable "health_check_grace_period_seconds" {
  description = "Seconds ECS ignores failing load balancer health checks after a task starts."
  type        = number
  default     = 60
}

variable "certificate_arn" {
  description = "ACM certificate ARN for an HTTPS listener. When set, HTTP is redirected to HTTPS. Must be known at plan time."
  type        = string
  default     = null
}

variable "allowed_cidr_blocks" {
  description = "IPv4 CIDR blocks allowed to reach the load balancer."
  type        = list(string)
  default     = ["0.0.0.0/0"]

  validation {
    condition     = alltrue([for cidr in var.allowed_cidr_blocks : can(cidrhost(cidr, 0))])
    error_message = "Every entry of allowed_cidr_blocks must be a valid CIDR block."
  }
}

variable "task_role_arn" {
  description = "Optional IAM role the application assumes (for calling AWS APIs). Distinct from the execution role this module creates."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the container logs in CloudWatch Logs, in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention period CloudWatch Logs supports (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "tags" {
  description = "Tags added to every resource created by this module."
  type        = map(string)
  default     = {}
}
