output "cluster_name" {
  description = "Name of the EKS cluster."
  value       = module.eks.cluster_name
}

output "cluster_endpoint" {
  description = "HTTPS endpoint of the Kubernetes API."
  value       = module.eks.cluster_endpoint
}

output "cluster_certificate_authority_data" {
  description = "Base64 CA certificate of the Kubernetes API."
  value       = module.eks.cluster_certificate_authority_data
}

output "oidc_provider_arn" {
  description = "ARN of the cluster's OIDC provider (IRSA)."
  value       = module.eks.oidc_provider_arn
}

output "load_balancer_controller_role_arn" {
  description = "IAM role the AWS Load Balancer Controller's service account assumes."
  value       = module.load_balancer_controller_irsa.iam_role_arn
}

output "cluster_autoscaler_role_arn" {
  description = "IAM role Cluster Autoscaler's service account assumes."
  value       = module.cluster_autoscaler_irsa.iam_role_arn
}

output "node_security_group_id" {
  description = "Security group shared by the nodes (and, with the VPC CNI, by the pods)."
  value       = module.eks.node_security_group_id
}
