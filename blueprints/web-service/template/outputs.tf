output "url" {
  description = "URL of the service through its load balancer."
  value       = module.service.url
}

output "load_balancer_dns_name" {
  description = "DNS name of the load balancer; point the service's CNAME or alias record at it."
  value       = module.service.load_balancer_dns_name
}

output "ecs_cluster_name" {
  description = "Name of the ECS cluster the service runs in."
  value       = aws_ecs_cluster.this.name
}

output "ecs_service_name" {
  description = "Name of the ECS service (for `aws ecs update-service --force-new-deployment`)."
  value       = module.service.service_name
}

output "log_group_name" {
  description = "CloudWatch log group holding the container logs."
  value       = module.service.log_group_name
}

output "database_endpoint" {
  description = "Endpoint (host:port) of the PostgreSQL instance."
  value       = module.database.endpoint
}

output "database_name" {
  description = "Name of the application database."
  value       = module.database.database_name
}

output "vpc_id" {
  description = "ID of the service's VPC."
  value       = module.network.vpc_id
}
