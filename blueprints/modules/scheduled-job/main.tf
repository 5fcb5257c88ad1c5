data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  managed_policy_prefix = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role"

  has_image_config = anytrue([
    var.image_config.entry_point != null,
    var.image_config.command != null,
    var.image_config.working_directory != null,
  ])

  tags = merge(var.tags, {
    "platform:module" = "scheduled-job"
    "platform:job"    = var.name
  })
}

# ---------------------------------------------------------------------------
# Function
# ---------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_days

  tags = local.tags
}

data "aws_iam_policy_document" "lambda_assume_role" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "function" {
  name_prefix        = "${substr(var.name, 0, 30)}-fn-"
  description        = "Execution role of the ${var.name} scheduled job"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume_role.json

  tags = local.tags
}

resource "aws_iam_role_policy_attachment" "function_basic" {
  role       = aws_iam_role.function.name
  policy_arn = "${local.managed_policy_prefix}/AWSLambdaBasicExecutionRole"
}

resource "aws_iam_role_policy_attachment" "function_vpc" {
  count = var.vpc_config == null ? 0 : 1

  role       = aws_iam_role.function.name
  policy_arn = "${local.managed_policy_prefix}/AWSLambdaVPCAccessExecutionRole"
}

resource "aws_iam_role_policy_attachment" "function_extra" {
  count = length(var.policy_arns)

  role       = aws_iam_role.function.name
  policy_arn = var.policy_arns[count.index]
}

resource "aws_lambda_function" "this" {
  function_name = var.name
  description   = "Scheduled job ${var.name} (${var.schedule_expression})"
  role          = aws_iam_role.function.arn
  package_type  = "Image"
  image_uri     = var.image_uri
  architectures = [var.architecture]
  timeout       = var.timeout
  memory_size   = var.memory_size

  dynamic "image_config" {
    for_each = local.has_image_config ? [var.image_config] : []

    content {
      entry_point       = image_config.value.entry_point
      command           = image_config.value.command
      working_directory = image_config.value.working_directory
    }
  }

  dynamic "environment" {
    for_each = length(var.environment) > 0 ? [var.environment] : []

    content {
      variables = environment.value
    }
  }

  dynamic "vpc_config" {
    for_each = var.vpc_config == null ? [] : [var.vpc_config]

    content {
      subnet_ids         = vpc_config.value.subnet_ids
      security_group_ids = vpc_config.value.security_group_ids
    }
  }

  tags = local.tags

  depends_on = [
    aws_cloudwatch_log_group.this,
    aws_iam_role_policy_attachment.function_basic,
    aws_iam_role_policy_attachment.function_vpc,
  ]
}

# ---------------------------------------------------------------------------
# Schedule
# ---------------------------------------------------------------------------

data "aws_iam_policy_document" "scheduler_assume_role" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name_prefix        = "${substr(var.name, 0, 30)}-sched-"
  description        = "Lets EventBridge Scheduler invoke the ${var.name} function"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume_role.json

  tags = local.tags
}

data "aws_iam_policy_document" "scheduler_invoke" {
  statement {
    actions = ["lambda:InvokeFunction"]
    resources = [
      aws_lambda_function.this.arn,
      "${aws_lambda_function.this.arn}:*",
    ]
  }
}

resource "aws_iam_role_policy" "scheduler_invoke" {
  name   = "invoke-${var.name}"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler_invoke.json
}

# Schedules cannot be tagged; the tags are on the function and the roles.
resource "aws_scheduler_schedule" "this" {
  name                         = var.name
  group_name                   = "default"
  description                  = "Runs the ${var.name} function"
  schedule_expression          = var.schedule_expression
  schedule_expression_timezone = var.schedule_timezone
  state                        = var.enabled ? "ENABLED" : "DISABLED"

  flexible_time_window {
    mode                      = var.flexible_time_window_minutes > 0 ? "FLEXIBLE" : "OFF"
    maximum_window_in_minutes = var.flexible_time_window_minutes > 0 ? var.flexible_time_window_minutes : null
  }

  target {
    arn      = aws_lambda_function.this.arn
    role_arn = aws_iam_role.scheduler.arn
    input    = var.input

    retry_policy {
      maximum_retry_attempts       = var.retry_policy.maximum_retry_attempts
      maximum_event_age_in_seconds = var.retry_policy.maximum_event_age_in_seconds
    }
  }

  depends_on = [aws_iam_role_policy.scheduler_invoke]
}
