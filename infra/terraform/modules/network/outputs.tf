output "vpc_id" {
  description = "ID of the VPC."
  value       = module.vpc.vpc_id
}

output "private_subnet_ids" {
  description = "IDs of the three private subnets (nodes, pods, the EKS control plane's interfaces)."
  value       = module.vpc.private_subnets
}

output "public_subnet_ids" {
  description = "IDs of the three public subnets (NAT gateways, internet-facing NLBs)."
  value       = module.vpc.public_subnets
}

output "azs" {
  description = "Availability zones of the subnets, in order."
  value       = var.azs
}
