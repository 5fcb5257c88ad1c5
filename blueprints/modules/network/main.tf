locals {
  az_count = length(var.availability_zones)

  # Public subnets use the first N network numbers, private subnets the next N.
  public_subnets = {
    for index, az in var.availability_zones : az => cidrsubnet(var.cidr_block, var.subnet_newbits, index)
  }
  private_subnets = {
    for index, az in var.availability_zones : az => cidrsubnet(var.cidr_block, var.subnet_newbits, index + local.az_count)
  }

  tags = merge(var.tags, {
    "platform:module" = "network"
  })
}

resource "aws_vpc" "this" {
  cidr_block           = var.cidr_block
  enable_dns_support   = true
  enable_dns_hostnames = var.enable_dns_hostnames

  tags = merge(local.tags, {
    Name = var.name
  })
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id

  tags = merge(local.tags, {
    Name = var.name
  })
}

module "public_subnet" {
  source   = "./modules/subnet"
  for_each = local.public_subnets

  name              = "${var.name}-public-${each.key}"
  vpc_id            = aws_vpc.this.id
  cidr_block        = each.value
  availability_zone = each.key
  public            = true
  default_route = {
    via = "internet_gateway"
    id  = aws_internet_gateway.this.id
  }

  tags = merge(local.tags, {
    "platform:tier" = "public"
  })
}

resource "aws_eip" "nat" {
  count = var.enable_nat_gateway ? 1 : 0

  domain = "vpc"

  tags = merge(local.tags, {
    Name = "${var.name}-nat"
  })

  depends_on = [aws_internet_gateway.this]
}

resource "aws_nat_gateway" "this" {
  count = var.enable_nat_gateway ? 1 : 0

  allocation_id = aws_eip.nat[0].id
  subnet_id     = module.public_subnet[var.availability_zones[0]].subnet_id

  tags = merge(local.tags, {
    Name = var.name
  })

  depends_on = [aws_internet_gateway.this]
}

module "private_subnet" {
  source   = "./modules/subnet"
  for_each = local.private_subnets

  name              = "${var.name}-private-${each.key}"
  vpc_id            = aws_vpc.this.id
  cidr_block        = each.value
  availability_zone = each.key
  public            = false
  default_route = var.enable_nat_gateway ? {
    via = "nat_gateway"
    id  = aws_nat_gateway.this[0].id
    } : {
    via = "none"
    id  = null
  }

  tags = merge(local.tags, {
    "platform:tier" = "private"
  })
}
