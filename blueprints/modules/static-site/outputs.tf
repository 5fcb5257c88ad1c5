output "bucket_name" {
  description = "Name of the S3 bucket to upload the site to."
  value       = aws_s3_bucket.this.id
}

output "bucket_arn" {
  description = "ARN of the S3 bucket."
  value       = aws_s3_bucket.this.arn
}

output "distribution_id" {
  description = "ID of the CloudFront distribution (needed for cache invalidations)."
  value       = aws_cloudfront_distribution.this.id
}

output "distribution_arn" {
  description = "ARN of the CloudFront distribution."
  value       = aws_cloudfront_distribution.this.arn
}

output "distribution_domain_name" {
  description = "CloudFront domain name of the distribution, e.g. d1234abcd.cloudfront.net."
  value       = aws_cloudfront_distribution.this.domain_name
}

output "distribution_hosted_zone_id" {
  description = "Route 53 hosted zone ID of the distribution, for alias records of the custom domain."
  value       = aws_cloudfront_distribution.this.hosted_zone_id
}

output "url" {
  description = "HTTPS URL of the site: the first custom alias if configured, otherwise the CloudFront domain."
  value       = "https://${var.custom_domain == null ? aws_cloudfront_distribution.this.domain_name : var.custom_domain.aliases[0]}"
}
