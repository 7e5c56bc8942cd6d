variable "name" {
  description = "Name of the VPC and prefix of its subnets, route tables and NAT gateways."
  type        = string
}

variable "cidr" {
  description = "IPv4 CIDR of the VPC. Split into three private /18 subnets (pods take VPC addresses: one per pod with the VPC CNI) and three public /22 subnets (NAT gateways and the NLB)."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrnetmask(var.cidr)) && tonumber(split("/", var.cidr)[1]) <= 16
    error_message = "cidr must be an IPv4 CIDR of /16 or larger."
  }
}

variable "azs" {
  description = "Exactly three availability zones of the region, e.g. [\"eu-west-1a\", \"eu-west-1b\", \"eu-west-1c\"]."
  type        = list(string)

  validation {
    condition     = length(var.azs) == 3
    error_message = "azs must list exactly three availability zones."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones (cheaper, one zone's failure cuts egress for all) instead of one per zone. Egress is small here: image pulls, AWS APIs."
  type        = bool
  default     = false
}

variable "cluster_name" {
  description = "EKS cluster name, for the kubernetes.io/cluster/<name> subnet tag the AWS Load Balancer Controller uses to find subnets."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
