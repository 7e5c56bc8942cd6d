# What deploy/millionws needs in the cluster, installed with Helm at pinned chart versions:
#  - AWS Load Balancer Controller: makes the NLB for the millionws Service (IP targets);
#  - kube-prometheus-stack: Prometheus (and the ServiceMonitor CRD) scraping /metrics;
#  - prometheus-adapter: the custom metrics API serving millionws_connections_active to the HPA;
#  - metrics-server: the resource metrics API (CPU, memory) for the HPA;
#  - Cluster Autoscaler: adds server nodes when the HPA's pods do not fit, removes empty ones.
# All of them run on the untainted "system" node group.

locals {
  on_system_nodes = { "millionws.io/pool" = "system" }
  prometheus_url  = "http://kube-prometheus-stack-prometheus.monitoring.svc"
}

resource "helm_release" "aws_load_balancer_controller" {
  name       = "aws-load-balancer-controller"
  namespace  = "kube-system"
  repository = "https://aws.github.io/eks-charts"
  chart      = "aws-load-balancer-controller"
  version    = var.chart_versions.aws_load_balancer_controller

  values = [yamlencode({
    clusterName  = var.cluster_name
    region       = var.region
    vpcId        = var.vpc_id
    replicaCount = 2
    nodeSelector = local.on_system_nodes
    serviceAccount = {
      create      = true
      name        = "aws-load-balancer-controller"
      annotations = { "eks.amazonaws.com/role-arn" = var.load_balancer_controller_role_arn }
    }
  })]
}

resource "helm_release" "kube_prometheus_stack" {
  name             = "kube-prometheus-stack"
  namespace        = "monitoring"
  create_namespace = true
  repository       = "https://prometheus-community.github.io/helm-charts"
  chart            = "kube-prometheus-stack"
  version          = var.chart_versions.kube_prometheus_stack

  values = [yamlencode({
    prometheus = {
      prometheusSpec = {
        # Pick up every ServiceMonitor/PodMonitor in the cluster, not only those labelled with
        # this release (deploy/millionws/servicemonitor.yaml carries no release label).
        serviceMonitorSelectorNilUsesHelmValues = false
        podMonitorSelectorNilUsesHelmValues     = false
        retention                               = var.prometheus_retention
        nodeSelector                            = local.on_system_nodes
      }
    }
    alertmanager = { alertmanagerSpec = { nodeSelector = local.on_system_nodes } }
    grafana      = { nodeSelector = local.on_system_nodes }
    prometheusOperator = {
      nodeSelector = local.on_system_nodes
      admissionWebhooks = {
        patch = { nodeSelector = local.on_system_nodes }
      }
    }
    kube-state-metrics = { nodeSelector = local.on_system_nodes }
    # Node metrics from every node, the tainted server and load pools included.
    prometheus-node-exporter = { tolerations = [{ operator = "Exists" }] }
  })]
}

resource "helm_release" "prometheus_adapter" {
  name       = "prometheus-adapter"
  namespace  = "monitoring"
  repository = "https://prometheus-community.github.io/helm-charts"
  chart      = "prometheus-adapter"
  version    = var.chart_versions.prometheus_adapter

  values = [
    file(var.prometheus_adapter_values_file),
    yamlencode({
      prometheus   = { url = local.prometheus_url, port = 9090 }
      nodeSelector = local.on_system_nodes
    }),
  ]

  depends_on = [helm_release.kube_prometheus_stack]
}

resource "helm_release" "metrics_server" {
  name       = "metrics-server"
  namespace  = "kube-system"
  repository = "https://kubernetes-sigs.github.io/metrics-server/"
  chart      = "metrics-server"
  version    = var.chart_versions.metrics_server

  values = [yamlencode({
    nodeSelector = local.on_system_nodes
  })]
}

resource "helm_release" "cluster_autoscaler" {
  name       = "cluster-autoscaler"
  namespace  = "kube-system"
  repository = "https://kubernetes.github.io/autoscaler"
  chart      = "cluster-autoscaler"
  version    = var.chart_versions.cluster_autoscaler

  values = [yamlencode({
    cloudProvider = "aws"
    awsRegion     = var.region
    autoDiscovery = { clusterName = var.cluster_name }
    image         = { tag = var.cluster_autoscaler_image_tag }
    nodeSelector  = local.on_system_nodes
    rbac = {
      serviceAccount = {
        create      = true
        name        = "cluster-autoscaler"
        annotations = { "eks.amazonaws.com/role-arn" = var.cluster_autoscaler_role_arn }
      }
    }
    extraArgs = {
      # The three server groups (one per zone) are alike: keep them the same size.
      balance-similar-node-groups = true
      expander                    = "least-waste"
      # Server pods carry cluster-autoscaler.kubernetes.io/safe-to-evict: "false": a server
      # node is removed only once the HPA's scale-down has emptied it, never by moving pods
      # (which would drop their connections) just to pack nodes tighter.
      skip-nodes-with-system-pods = false
    }
  })]
}
