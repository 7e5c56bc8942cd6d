output "cluster_name" {
  description = "Name of the EKS cluster."
  value       = module.eks.cluster_name
}

output "cluster_endpoint" {
  description = "HTTPS endpoint of the Kubernetes API."
  value       = module.eks.cluster_endpoint
}

output "kubeconfig_command" {
  description = "Writes a kubeconfig context for this cluster (needs the AWS CLI)."
  value       = "aws eks update-kubeconfig --region ${var.region} --name ${module.eks.cluster_name}"
}

output "ecr_repository_url" {
  description = "Repository to push the MillionWS image to; use it as newName in the kustomize images: entry."
  value       = aws_ecr_repository.millionws.repository_url
}

output "nlb_hostname_command" {
  description = "The NLB is made by the AWS Load Balancer Controller when deploy/millionws is applied, after Terraform has finished, so Terraform cannot know its hostname; this command prints it."
  value       = "kubectl -n millionws get service millionws -o jsonpath='{.status.loadBalancer.ingress[0].hostname}'"
}

output "prometheus_url" {
  description = "In-cluster URL of Prometheus."
  value       = module.platform.prometheus_url
}
