# One MillionWS production cluster: network, EKS with its node groups, the in-cluster platform
# (load balancer controller, Prometheus, prometheus-adapter, metrics-server, Cluster Autoscaler)
# and the ECR repository the image is pushed to. README.md beside this file: apply and destroy.

locals {
  tags = merge(var.tags, {
    "millionws.io/cluster" = var.cluster_name
    "managed-by"           = "terraform"
  })
}

module "network" {
  source = "../../modules/network"

  name               = var.cluster_name
  cidr               = var.vpc_cidr
  azs                = var.azs
  single_nat_gateway = var.single_nat_gateway
  cluster_name       = var.cluster_name
}

module "eks" {
  source = "../../modules/eks"

  cluster_name                 = var.cluster_name
  kubernetes_version           = var.kubernetes_version
  vpc_id                       = module.network.vpc_id
  private_subnet_ids           = module.network.private_subnet_ids
  endpoint_public_access_cidrs = var.endpoint_public_access_cidrs
  system_nodes                 = var.system_nodes
  server_nodes                 = var.server_nodes
  load_nodes                   = var.load_nodes
}

module "platform" {
  source = "../../modules/platform"

  cluster_name                      = module.eks.cluster_name
  region                            = var.region
  vpc_id                            = module.network.vpc_id
  load_balancer_controller_role_arn = module.eks.load_balancer_controller_role_arn
  cluster_autoscaler_role_arn       = module.eks.cluster_autoscaler_role_arn
  cluster_autoscaler_image_tag      = var.cluster_autoscaler_image_tag
  prometheus_adapter_values_file    = "${path.root}/../../../../deploy/millionws/prometheus-adapter/values.yaml"
}

# Where the image the Dockerfile builds goes (`millionws:latest` locally); deploy/millionws
# points at it through kustomize `images:`.
resource "aws_ecr_repository" "millionws" {
  name                 = "${var.cluster_name}/millionws"
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }
}
