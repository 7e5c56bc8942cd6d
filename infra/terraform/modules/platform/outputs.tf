output "prometheus_url" {
  description = "In-cluster URL of the Prometheus that scrapes MillionWS (kubectl -n monitoring port-forward svc/kube-prometheus-stack-prometheus 9090 to reach it)."
  value       = local.prometheus_url
}

output "releases" {
  description = "Installed Helm releases and their chart versions."
  value = {
    for r in [
      helm_release.aws_load_balancer_controller,
      helm_release.kube_prometheus_stack,
      helm_release.prometheus_adapter,
      helm_release.metrics_server,
      helm_release.cluster_autoscaler,
    ] : r.name => r.version
  }
}
