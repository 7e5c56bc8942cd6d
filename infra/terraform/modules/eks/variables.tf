variable "cluster_name" {
  description = "Name of the EKS cluster; also prefixes node groups and IAM roles."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{0,27}$", var.cluster_name))
    error_message = "cluster_name: letters, digits and hyphens, starting with a letter, at most 28 characters (IAM role name prefixes derived from it are limited to 38)."
  }
}

variable "kubernetes_version" {
  description = "Kubernetes minor version of the control plane and nodes (e.g. \"1.34\"). Pick one in EKS standard support (extended support costs six times as much per cluster-hour); the Cluster Autoscaler image (platform module) must have the same minor."
  type        = string

  validation {
    condition     = can(regex("^1\\.[0-9]+$", var.kubernetes_version))
    error_message = "kubernetes_version must look like 1.34."
  }
}

variable "vpc_id" {
  description = "VPC of the cluster (network module output vpc_id)."
  type        = string
}

variable "private_subnet_ids" {
  description = "The three private subnets, one per zone, in the order of azs (network module output private_subnet_ids). Nodes, pods and the control plane's interfaces go here."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) == 3
    error_message = "private_subnet_ids must have one subnet per zone, three in all."
  }
}

variable "endpoint_public_access_cidrs" {
  description = "CIDRs allowed to reach the public Kubernetes API endpoint (kubectl, terraform's helm provider). Narrow it to your office or CI addresses."
  type        = list(string)
}

variable "system_nodes" {
  description = "Node group for cluster add-ons (CoreDNS, AWS Load Balancer Controller, Prometheus, prometheus-adapter, metrics-server, Cluster Autoscaler), spread over the three zones. Untainted."
  type = object({
    instance_types = list(string)
    min_size       = number
    desired_size   = number
    max_size       = number
    disk_gib       = optional(number, 50)
  })

  validation {
    condition     = var.system_nodes.min_size <= var.system_nodes.desired_size && var.system_nodes.desired_size <= var.system_nodes.max_size
    error_message = "system_nodes: min_size <= desired_size <= max_size."
  }
}

variable "server_nodes" {
  description = "Node groups for MillionWS server pods: one group per zone (so that Cluster Autoscaler can add a node in the zone a pending pod needs), each with these sizes. Tainted millionws.io/pool=server:NoSchedule, labelled millionws.io/pool=server; their kubelet allows server_allowed_unsafe_sysctls and the nodes carry the raised descriptor, socket and conntrack limits (node_tuning). Non-burstable instances only: docs/capacity.md sizes them."
  type = object({
    instance_types = list(string)
    min_size       = number
    desired_size   = number
    max_size       = number
    disk_gib       = optional(number, 50)
  })

  validation {
    condition     = var.server_nodes.min_size <= var.server_nodes.desired_size && var.server_nodes.desired_size <= var.server_nodes.max_size
    error_message = "server_nodes: min_size <= desired_size <= max_size."
  }

  validation {
    condition     = alltrue([for t in var.server_nodes.instance_types : !can(regex("^t[0-9]", t))])
    error_message = "server_nodes: burstable (t*) instances run out of CPU credits under a reconnect storm; use a fixed-performance family (c7i, m7i, ...)."
  }
}

variable "load_nodes" {
  description = "Node group named \"load\" for load generators (Locust workers, millionws-load pods), spread over the three zones, tainted millionws.io/pool=load:NoSchedule and labelled millionws.io/pool=load so that they never share a node with the servers they measure. Keep min_size and desired_size at 0 between tests."
  type = object({
    instance_types = list(string)
    min_size       = number
    desired_size   = number
    max_size       = number
    disk_gib       = optional(number, 50)
  })

  validation {
    condition     = var.load_nodes.min_size <= var.load_nodes.desired_size && var.load_nodes.desired_size <= var.load_nodes.max_size
    error_message = "load_nodes: min_size <= desired_size <= max_size."
  }

  validation {
    condition     = alltrue([for t in var.load_nodes.instance_types : !can(regex("^t[0-9]", t))])
    error_message = "load_nodes: burstable (t*) instances skew measurements when their CPU credits run out."
  }
}

variable "server_allowed_unsafe_sysctls" {
  description = "Sysctls the server nodes' kubelet lets pods set although Kubernetes calls them unsafe. deploy/millionws sets net.core.somaxconn (per network namespace; the accept backlog)."
  type        = list(string)
  default     = ["net.core.somaxconn"]
}

variable "node_tuning" {
  description = "Kernel and runtime limits written on server and load nodes at boot: system-wide open files (fs.file-max), the per-process ceiling (fs.nr_open), containerd's and so every container's hard descriptor limit (nofile, which MillionWS raises its soft limit to), the listen backlog cap of the host namespace (somaxconn), TCP memory in 4 KiB pages (tcp_mem: min, pressure, max) and the connection tracking table (conntrack_max, kept there by a timer because kube-proxy lowers it to 32,768 per core when it starts)."
  type = object({
    file_max      = number
    nr_open       = number
    nofile        = number
    somaxconn     = number
    tcp_mem       = list(number)
    conntrack_max = number
  })
  default = {
    file_max      = 8388608
    nr_open       = 4194304
    nofile        = 1048576
    somaxconn     = 65535
    tcp_mem       = [786432, 1048576, 1572864]
    conntrack_max = 2097152
  }

  validation {
    condition     = var.node_tuning.nofile <= var.node_tuning.nr_open && var.node_tuning.nr_open <= var.node_tuning.file_max && length(var.node_tuning.tcp_mem) == 3
    error_message = "node_tuning: nofile <= nr_open <= file_max, and tcp_mem has three values."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
