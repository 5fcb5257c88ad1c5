output "url" {
  description = "HTTPS URL of the site (the custom domain when configured)."
  value       = module.site.url
}

output "bucket_name" {
  description = "S3 bucket to upload the site's files to (see scripts/publish.sh)."
  value       = module.site.bucket_name
}

output "distribution_id" {
  description = "ID of the CloudFront distribution, for cache invalidations."
  value       = module.site.distribution_id
}

output "distribution_domain_name" {
  description = "CloudFront domain name; point the custom domain's CNAME or alias record at it."
  value       = module.site.distribution_domain_name
}

output "distribution_hosted_zone_id" {
  description = "Route 53 hosted zone ID of the distribution, for alias records."
  value       = module.site.distribution_hosted_zone_id
}
