output "service_name" {
  description = "Name of the ECS service."
  value       = aws_ecs_service.this.name
}

output "service_arn" {
  description = "ARN of the ECS service."
  value       = aws_ecs_service.this.id
}

output "task_definition_arn" {
  description = "ARN (including revision) of the task definition the service runs."
  value       = aws_ecs_task_definition.this.arn
}

output "security_group_id" {
  description = "ID of the tasks' security group. Pass it to e.g. the database module's allowed_security_group_ids."
  value       = aws_security_group.service.id
}

output "load_balancer_security_group_id" {
  description = "ID of the load balancer's security group."
  value       = aws_security_group.alb.id
}

output "load_balancer_arn" {
  description = "ARN of the Application Load Balancer."
  value       = aws_lb.this.arn
}

output "load_balancer_dns_name" {
  description = "DNS name of the Application Load Balancer (point a CNAME or alias record at it)."
  value       = aws_lb.this.dns_name
}

output "load_balancer_zone_id" {
  description = "Route 53 hosted zone ID of the load balancer, for alias records."
  value       = aws_lb.this.zone_id
}

output "url" {
  description = "URL of the service via the load balancer's DNS name."
  value       = "${local.https_enabled ? "https" : "http"}://${aws_lb.this.dns_name}"
}

output "target_group_arn" {
  description = "ARN of the target group the tasks register in."
  value       = aws_lb_target_group.this.arn
}

output "log_group_name" {
  description = "Name of the CloudWatch log group holding the container logs."
  value       = aws_cloudwatch_log_group.this.name
}

output "execution_role_arn" {
  description = "ARN of the task execution role."
  value       = aws_iam_role.execution.arn
}

output "execution_role_name" {
  description = "Name of the task execution role (attach extra policies to it, e.g. for reading secrets)."
  value       = aws_iam_role.execution.name
}
