variable "cluster_name" {
  description = "Name of the EKS cluster (eks module output cluster_name)."
  type        = string
}

variable "region" {
  description = "AWS region of the cluster, e.g. eu-west-1."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the cluster (network module output vpc_id); the AWS Load Balancer Controller needs it when it cannot read instance metadata."
  type        = string
}

variable "load_balancer_controller_role_arn" {
  description = "IAM role for the AWS Load Balancer Controller's service account (eks module output)."
  type        = string
}

variable "cluster_autoscaler_role_arn" {
  description = "IAM role for Cluster Autoscaler's service account (eks module output)."
  type        = string
}

variable "cluster_autoscaler_image_tag" {
  description = "Cluster Autoscaler image tag; its minor version must equal the cluster's Kubernetes minor (v1.34.x for 1.34)."
  type        = string
}

variable "prometheus_adapter_values_file" {
  description = "Path of the prometheus-adapter Helm values holding the custom-metric rules (deploy/millionws/prometheus-adapter/values.yaml): the same file tools/k8s-check checks against hpa.yaml."
  type        = string
}

variable "prometheus_retention" {
  description = "How long Prometheus keeps samples (kube-prometheus-stack prometheusSpec.retention). Storage is the pod's emptyDir: samples are lost when the pod moves; the HPA needs only the last minutes."
  type        = string
  default     = "2d"
}

variable "chart_versions" {
  description = "Pinned Helm chart versions. Change them deliberately: a chart upgrade can change defaults."
  type = object({
    aws_load_balancer_controller = string
    kube_prometheus_stack        = string
    prometheus_adapter           = string
    metrics_server               = string
    cluster_autoscaler           = string
  })
  default = {
    aws_load_balancer_controller = "1.13.4"
    kube_prometheus_stack        = "77.10.0"
    prometheus_adapter           = "4.14.1"
    metrics_server               = "3.13.0"
    cluster_autoscaler           = "9.50.1"
  }
}
