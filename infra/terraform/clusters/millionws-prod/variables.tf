variable "region" {
  description = "AWS region, e.g. eu-west-1."
  type        = string
}

variable "azs" {
  description = "Three availability zones of the region, e.g. [\"eu-west-1a\", \"eu-west-1b\", \"eu-west-1c\"]."
  type        = list(string)
}

variable "cluster_name" {
  description = "Name of the EKS cluster, the VPC and the ECR repository prefix."
  type        = string
}

variable "kubernetes_version" {
  description = "Kubernetes minor version of the cluster, e.g. \"1.34\": one in EKS standard support."
  type        = string
}

variable "cluster_autoscaler_image_tag" {
  description = "Cluster Autoscaler image tag with the same minor as kubernetes_version, e.g. \"v1.34.3\"."
  type        = string

  validation {
    condition     = can(regex("^v[0-9]+\\.[0-9]+\\.[0-9]+$", var.cluster_autoscaler_image_tag))
    error_message = "cluster_autoscaler_image_tag must look like v1.34.3."
  }
}

variable "vpc_cidr" {
  description = "IPv4 CIDR of the VPC (/16 or larger)."
  type        = string
  default     = "10.0.0.0/16"
}

variable "single_nat_gateway" {
  description = "One NAT gateway for the three zones instead of one per zone (cheaper, less available)."
  type        = bool
  default     = false
}

variable "endpoint_public_access_cidrs" {
  description = "CIDRs allowed to reach the Kubernetes API endpoint: where kubectl and terraform run."
  type        = list(string)
}

variable "system_nodes" {
  description = "Add-on node group (see modules/eks): instance types and min/desired/max sizes."
  type = object({
    instance_types = list(string)
    min_size       = number
    desired_size   = number
    max_size       = number
    disk_gib       = optional(number, 50)
  })
}

variable "server_nodes" {
  description = "MillionWS server node groups, sizes per zone (three groups): docs/capacity.md derives them from the HPA's maxReplicas and the pod's requests."
  type = object({
    instance_types = list(string)
    min_size       = number
    desired_size   = number
    max_size       = number
    disk_gib       = optional(number, 50)
  })
}

variable "load_nodes" {
  description = "Load generator node group \"load\" (Locust workers, millionws-load pods); 0 nodes between tests."
  type = object({
    instance_types = list(string)
    min_size       = number
    desired_size   = number
    max_size       = number
    disk_gib       = optional(number, 50)
  })
}

variable "tags" {
  description = "Tags added to every AWS resource (cost allocation, ownership)."
  type        = map(string)
  default     = {}
}
