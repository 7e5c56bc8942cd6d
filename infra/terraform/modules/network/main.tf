# Network for one MillionWS cluster: a VPC over three zones with private subnets for nodes and
# pods and public subnets for NAT and the internet-facing NLB, from the community module.

locals {
  # 10.0.0.0/16 -> private 10.0.0.0/18, 10.0.64.0/18, 10.0.128.0/18; public 10.0.192.0/22, .196, .200
  private_subnets = [for i in range(3) : cidrsubnet(var.cidr, 2, i)]
  public_subnets  = [for i in range(3) : cidrsubnet(var.cidr, 6, 48 + i)]
}

module "vpc" {
  source  = "terraform-aws-modules/vpc/aws"
  version = "5.21.0"

  name = var.name
  cidr = var.cidr
  azs  = var.azs

  private_subnets = local.private_subnets
  public_subnets  = local.public_subnets

  enable_nat_gateway     = true
  single_nat_gateway     = var.single_nat_gateway
  one_nat_gateway_per_az = !var.single_nat_gateway
  enable_dns_hostnames   = true
  enable_dns_support     = true

  # The AWS Load Balancer Controller places internet-facing NLBs in subnets tagged elb, internal
  # ones in subnets tagged internal-elb.
  public_subnet_tags = {
    "kubernetes.io/role/elb"                    = "1"
    "kubernetes.io/cluster/${var.cluster_name}" = "shared"
  }
  private_subnet_tags = {
    "kubernetes.io/role/internal-elb"           = "1"
    "kubernetes.io/cluster/${var.cluster_name}" = "shared"
  }

  tags = var.tags
}
