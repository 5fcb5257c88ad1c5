variable "bucket_name" {
  description = "Globally unique name of the S3 bucket holding the site's files."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name)) && !strcontains(var.bucket_name, "..")
    error_message = "bucket_name must be 3-63 characters of lowercase letters, digits, dots and hyphens, and start and end with a letter or digit."
  }
}

variable "custom_domain" {
  description = <<-EOT
    Optional custom domain. `aliases` are the host names CloudFront answers to; `acm_certificate_arn` must be a
    certificate in us-east-1 covering all of them. DNS records are not created by this module.
  EOT
  type = object({
    aliases             = list(string)
    acm_certificate_arn = string
  })
  default = null

  validation {
    condition = var.custom_domain == null ? true : (
      length(var.custom_domain.aliases) > 0 &&
      can(regex("^arn:aws[a-zA-Z-]*:acm:us-east-1:[0-9]{12}:certificate/.+$", var.custom_domain.acm_certificate_arn))
    )
    error_message = "custom_domain needs at least one alias and an ACM certificate ARN in us-east-1."
  }
}

variable "default_root_object" {
  description = "Object returned for requests to the root URL."
  type        = string
  default     = "index.html"
}

variable "error_responses" {
  description = "Custom error pages keyed by HTTP error code (e.g. 404 -> /404.html, or 403/404 -> /index.html with 200 for single-page apps)."
  type = map(object({
    response_page_path = string
    response_code      = optional(number)
    ttl_seconds        = optional(number, 10)
  }))
  default = {}

  validation {
    condition     = alltrue([for code, page in var.error_responses : contains(["400", "403", "404", "405", "414", "416", "500", "501", "502", "503", "504"], code) && startswith(page.response_page_path, "/")])
    error_message = "error_responses keys must be HTTP error codes CloudFront can customise, and response_page_path must start with \"/\"."
  }
}

variable "price_class" {
  description = "CloudFront price class: PriceClass_100 (NA/EU), PriceClass_200 or PriceClass_All."
  type        = string
  default     = "PriceClass_100"

  validation {
    condition     = contains(["PriceClass_100", "PriceClass_200", "PriceClass_All"], var.price_class)
    error_message = "price_class must be PriceClass_100, PriceClass_200 or PriceClass_All."
  }
}

variable "noncurrent_version_retention_days" {
  description = "Days to keep overwritten or deleted object versions before they expire."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_retention_days >= 1
    error_message = "noncurrent_version_retention_days must be at least 1."
  }
}

variable "force_destroy" {
  description = "Allow destroying the bucket even when it still contains objects."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource created by this module."
  type        = map(string)
  default     = {}
}
