output "function_name" {
  description = "Name of the Lambda function (invoke it by hand with `aws lambda invoke --function-name ...`)."
  value       = module.job.function_name
}

output "schedule_name" {
  description = "Name of the EventBridge Scheduler schedule."
  value       = module.job.schedule_name
}

output "log_group_name" {
  description = "CloudWatch log group of the job's runs."
  value       = module.job.log_group_name
}

output "function_role_name" {
  description = "Execution role of the job; attach the policies for what the job reads and writes."
  value       = module.job.function_role_name
}

output "error_alarm_name" {
  description = "Name of the CloudWatch alarm on failed invocations."
  value       = aws_cloudwatch_metric_alarm.errors.alarm_name
}
