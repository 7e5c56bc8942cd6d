# EKS for MillionWS: the cluster with OIDC (IRSA) and its core add-ons, managed node groups for
# add-ons ("system"), servers ("server-0", "-1", "-2", one per zone) and load generators ("load"), and
# the IAM roles the platform module's controllers assume. Community modules, pinned.

locals {
  node_tuning_script = templatefile("${path.module}/templates/node-tuning.sh.tftpl", {
    file_max      = var.node_tuning.file_max
    nr_open       = var.node_tuning.nr_open
    nofile        = var.node_tuning.nofile
    somaxconn     = var.node_tuning.somaxconn
    tcp_mem       = join(" ", var.node_tuning.tcp_mem)
    conntrack_max = var.node_tuning.conntrack_max
  })

  # nodeadm (Amazon Linux 2023) merges this NodeConfig with the one EKS generates.
  server_node_config = yamlencode({
    apiVersion = "node.eks.aws/v1alpha1"
    kind       = "NodeConfig"
    spec = {
      kubelet = {
        config = {
          allowedUnsafeSysctls = var.server_allowed_unsafe_sysctls
        }
      }
    }
  })

  block_devices = {
    for name, g in { system = var.system_nodes, server = var.server_nodes, load = var.load_nodes } : name => {
      xvda = {
        device_name = "/dev/xvda"
        ebs = {
          volume_size           = g.disk_gib
          volume_type           = "gp3"
          encrypted             = true
          delete_on_termination = true
        }
      }
    }
  }

  system_group = {
    system = {
      name                  = "system"
      ami_type              = "AL2023_x86_64_STANDARD"
      instance_types        = var.system_nodes.instance_types
      min_size              = var.system_nodes.min_size
      desired_size          = var.system_nodes.desired_size
      max_size              = var.system_nodes.max_size
      subnet_ids            = var.private_subnet_ids
      block_device_mappings = local.block_devices.system
      labels                = { "millionws.io/pool" = "system" }
    }
  }

  # One group per zone: a pending server pod (topology spread over zones) can only be helped by
  # a node in its zone, and Cluster Autoscaler picks groups, not zones.
  server_groups = {
    for i, subnet in var.private_subnet_ids : "server-${i}" => {
      name                  = "server-${i}"
      ami_type              = "AL2023_x86_64_STANDARD"
      instance_types        = var.server_nodes.instance_types
      min_size              = var.server_nodes.min_size
      desired_size          = var.server_nodes.desired_size
      max_size              = var.server_nodes.max_size
      subnet_ids            = [subnet]
      block_device_mappings = local.block_devices.server
      labels                = { "millionws.io/pool" = "server" }
      taints = {
        pool = { key = "millionws.io/pool", value = "server", effect = "NO_SCHEDULE" }
      }
      cloudinit_pre_nodeadm = [
        { content_type = "application/node.eks.aws", content = local.server_node_config },
        { content_type = "text/x-shellscript; charset=\"us-ascii\"", content = local.node_tuning_script },
      ]
    }
  }

  load_group = {
    load = {
      name                  = "load"
      ami_type              = "AL2023_x86_64_STANDARD"
      instance_types        = var.load_nodes.instance_types
      min_size              = var.load_nodes.min_size
      desired_size          = var.load_nodes.desired_size
      max_size              = var.load_nodes.max_size
      subnet_ids            = var.private_subnet_ids
      block_device_mappings = local.block_devices.load
      labels                = { "millionws.io/pool" = "load" }
      taints = {
        pool = { key = "millionws.io/pool", value = "load", effect = "NO_SCHEDULE" }
      }
      cloudinit_pre_nodeadm = [
        { content_type = "text/x-shellscript; charset=\"us-ascii\"", content = local.node_tuning_script },
      ]
    }
  }
}

module "eks" {
  source  = "terraform-aws-modules/eks/aws"
  version = "20.37.1"

  cluster_name    = var.cluster_name
  cluster_version = var.kubernetes_version

  cluster_endpoint_public_access       = true
  cluster_endpoint_public_access_cidrs = var.endpoint_public_access_cidrs
  cluster_endpoint_private_access      = true

  # Access entries (not the aws-auth ConfigMap); whoever runs `terraform apply` becomes admin.
  authentication_mode                      = "API"
  enable_cluster_creator_admin_permissions = true

  # OIDC provider for IAM roles for service accounts (the controllers below).
  enable_irsa = true

  vpc_id                   = var.vpc_id
  subnet_ids               = var.private_subnet_ids
  control_plane_subnet_ids = var.private_subnet_ids

  # Core add-ons at the newest version EKS offers for kubernetes_version; the VPC CNI first, so
  # that nodes come up with pod networking.
  cluster_addons = {
    vpc-cni                = { most_recent = true, before_compute = true }
    kube-proxy             = { most_recent = true }
    coredns                = { most_recent = true }
    eks-pod-identity-agent = { most_recent = true }
  }

  eks_managed_node_groups = merge(local.system_group, local.server_groups, local.load_group)

  tags = var.tags
}

# IAM roles for the platform module's controllers (IRSA: the service account named here may
# assume the role).
module "load_balancer_controller_irsa" {
  source  = "terraform-aws-modules/iam/aws//modules/iam-role-for-service-accounts-eks"
  version = "5.60.0"

  role_name                              = "${var.cluster_name}-aws-load-balancer-controller"
  attach_load_balancer_controller_policy = true

  oidc_providers = {
    main = {
      provider_arn               = module.eks.oidc_provider_arn
      namespace_service_accounts = ["kube-system:aws-load-balancer-controller"]
    }
  }

  tags = var.tags
}

module "cluster_autoscaler_irsa" {
  source  = "terraform-aws-modules/iam/aws//modules/iam-role-for-service-accounts-eks"
  version = "5.60.0"

  role_name                        = "${var.cluster_name}-cluster-autoscaler"
  attach_cluster_autoscaler_policy = true
  cluster_autoscaler_cluster_names = [module.eks.cluster_name]

  oidc_providers = {
    main = {
      provider_arn               = module.eks.oidc_provider_arn
      namespace_service_accounts = ["kube-system:cluster-autoscaler"]
    }
  }

  tags = var.tags
}
