// Checks specific to the MillionWS server's workload: they read the server's own settings (the
// MILLIONWS_* environment of README's Configuration table) and compare them with probes, ports,
// grace periods, Services, scraping, the HPA and resources.
//
// A server workload is a pod template labelled app.kubernetes.io/name=millionws and
// app.kubernetes.io/component=server. Other workloads (load generators, Locust) get none of
// these checks.

import { id, podTemplate, workloads, selectorMatches, resolvePort } from "./cross.mjs";
import { adapterMetricNames } from "./adapter.mjs";

export const isServer = (w) => {
  const l = podTemplate(w)?.metadata?.labels ?? {};
  return l["app.kubernetes.io/name"] === "millionws" && l["app.kubernetes.io/component"] === "server";
};

// Per-connection costs measured by the project (docs/capacity.md shows the arithmetic):
// user space: 61.0 B at 19,000 connections (`just bench-compare`; 55.6 B at 1M from
// `just bench-memory 1000000 --echo-rate 10000 --echo-seconds 10`): take the larger.
// kernel: 8,366 B of slab per connection for both ends at 1M (same 1M command), so 4,183 B for
// the server's end; counted against the pod's memory cgroup (socket, file and epoll slabs are
// kmem-accounted under cgroup v2).
export const USER_BYTES_PER_CONNECTION = 61;
export const KERNEL_BYTES_PER_CONNECTION = 4183;
// Fixed: ~6.7 MiB image per process (1M command), 2 x 64 KiB per reactor, admin threads;
// rounded up to 64 MiB. Headroom for active connections' pooled buffers and socket buffers.
export const FIXED_BYTES = 64 * 1024 * 1024;
export const HEADROOM = 1.25;
// The AWS NLB's TCP idle timeout: an idle flow is dropped silently after 350 s.
export const NLB_IDLE_TIMEOUT_S = 350;

// Sysctls Kubernetes allows in pods without kubelet flags (safe, namespaced), Kubernetes 1.29+.
export const SAFE_SYSCTLS = new Set([
  "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
  "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start", "net.ipv4.ip_local_reserved_ports",
  "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
  "net.ipv4.tcp_keepalive_probes",
]);

/** README's durations: 500ms, 10s, 2m, 1h, a bare number of seconds; 0 or off disables (0). */
export function parseDuration(text) {
  const s = String(text).trim();
  if (s === "off" || s === "0") return 0;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s);
  if (!m) return null;
  const n = Number(m[1]);
  return { ms: n / 1000, s: n, m: n * 60, h: n * 3600, undefined: n }[m[2]];
}

/** README's sizes: bytes or K/KiB/M/MiB (powers of 1024). */
export function parseSize(text) {
  const m = /^(\d+)(K|KiB|M|MiB|G|GiB)?$/.exec(String(text).trim());
  if (!m) return null;
  return Number(m[1]) * ({ K: 1024, KiB: 1024, M: 1 << 20, MiB: 1 << 20, G: 1 << 30, GiB: 1 << 30 }[m[2]] ?? 1);
}

/** A Kubernetes quantity in bytes (memory) or cores (cpu). */
export function quantity(q) {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|m|k|M|G|T)?$/.exec(String(q));
  if (!m) return null;
  const mult = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
  return Number(m[1]) * (mult[m[2]] ?? 1);
}

/** The server's effective settings from a container's env (defaults from README). */
export function serverSettings(container) {
  const env = Object.fromEntries((container.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
  const get = (name, dflt) => (env[`MILLIONWS_${name}`] !== undefined ? env[`MILLIONWS_${name}`] : dflt);
  return {
    env,
    port: Number(get("PORT", "8080")),
    adminPort: Number(get("ADMIN_PORT", "9090")),
    drainS: parseDuration(get("DRAIN_TIMEOUT", "10s")),
    pingS: parseDuration(get("PING_INTERVAL", "off")),
    idleS: parseDuration(get("IDLE_TIMEOUT", "off")),
    maxConnections: get("MAX_CONNECTIONS", undefined),
    threads: get("THREADS", undefined),
  };
}

/** Seconds a preStop hook pauses, or null when it is not a recognisable pause. */
export function preStopSeconds(container) {
  const h = container.lifecycle?.preStop;
  if (!h) return null;
  if (h.sleep?.seconds !== undefined) return Number(h.sleep.seconds);
  const cmd = h.exec?.command ?? [];
  const joined = cmd.join(" ");
  const m = /(?:^|[\s;&])(?:\/usr)?(?:\/bin\/)?sleep\s+(\d+(?:\.\d+)?)\s*$/.exec(joined);
  return m ? Number(m[1]) : null;
}

function checkServer(objs, w, options) {
  const problems = [];
  const t = podTemplate(w);
  const spec = t.spec ?? {};
  const c = (spec.containers ?? []).find((x) => x.name === "millionws") ?? spec.containers?.[0];
  if (!c) return [`${id(w)}: no container`];
  const who = `${id(w)} container ${c.name}`;
  const s = serverSettings(c);

  // Ports: named container ports for the WebSocket and admin ports, matching the settings.
  if (s.adminPort === 0) problems.push(`${who}: MILLIONWS_ADMIN_PORT=0 disables /health and /metrics`);
  const wsPort = (c.ports ?? []).find((p) => p.containerPort === s.port);
  const adminPort = (c.ports ?? []).find((p) => p.containerPort === s.adminPort);
  if (!wsPort?.name) problems.push(`${who}: no named container port for the WebSocket port ${s.port}`);
  if (!adminPort?.name) problems.push(`${who}: no named container port for the admin port ${s.adminPort}`);

  // Probes: /health on the admin port (readiness turns 503 while draining).
  for (const probeName of ["readinessProbe", "livenessProbe"]) {
    const g = c[probeName]?.httpGet;
    if (!g) {
      problems.push(`${who}: ${probeName} must be an httpGet on /health (admin port)`);
      continue;
    }
    if (g.path !== "/health") problems.push(`${who}: ${probeName} path ${g.path} is not /health`);
    if (resolvePort(c, g.port) !== s.adminPort) problems.push(`${who}: ${probeName} port ${JSON.stringify(g.port)} is not the admin port ${s.adminPort}`);
    if (g.scheme && g.scheme !== "HTTP") problems.push(`${who}: ${probeName} scheme ${g.scheme}: the admin port serves plain HTTP`);
  }

  // Shutdown: preStop pause, then SIGTERM and the drain; the kubelet must wait for both.
  const pause = preStopSeconds(c);
  const grace = spec.terminationGracePeriodSeconds ?? 30;
  if (pause === null) problems.push(`${who}: no preStop pause (the load balancer needs time to stop sending new connections)`);
  if (s.drainS === null) problems.push(`${who}: MILLIONWS_DRAIN_TIMEOUT ${s.env.MILLIONWS_DRAIN_TIMEOUT} is not a duration`);
  if (pause !== null && s.drainS !== null && !(grace > pause + s.drainS)) {
    problems.push(`${who}: terminationGracePeriodSeconds ${grace} must exceed preStop ${pause}s + drain timeout ${s.drainS}s`);
  }

  // Restricted security context (pod or container level).
  const psc = spec.securityContext ?? {};
  const csc = c.securityContext ?? {};
  if (!(csc.runAsNonRoot ?? psc.runAsNonRoot)) problems.push(`${who}: runAsNonRoot is not true`);
  if (csc.readOnlyRootFilesystem !== true) problems.push(`${who}: readOnlyRootFilesystem is not true`);
  if (csc.allowPrivilegeEscalation !== false) problems.push(`${who}: allowPrivilegeEscalation is not false`);
  if (!(csc.capabilities?.drop ?? []).includes("ALL")) problems.push(`${who}: capabilities do not drop ALL`);
  if ((csc.seccompProfile ?? psc.seccompProfile)?.type !== "RuntimeDefault") problems.push(`${who}: seccompProfile is not RuntimeDefault`);

  // Sysctls: safe ones only, unless the node pool allows the others (then the pod must be pinned there).
  const unsafe = (psc.sysctls ?? []).filter((x) => !SAFE_SYSCTLS.has(x.name));
  const pinned = Object.keys(spec.nodeSelector ?? {}).length > 0 ||
    (spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? []).length > 0;
  for (const x of unsafe) {
    if (!(options.allowedUnsafeSysctls ?? []).includes(x.name)) {
      problems.push(`${id(w)}: sysctl ${x.name} is unsafe and not in the node pool's allowedUnsafeSysctls`);
    } else if (!pinned) {
      problems.push(`${id(w)}: sysctl ${x.name} needs nodes whose kubelet allows it: add a nodeSelector for that node group`);
    }
  }

  // Topology spread over zones and nodes, selecting this pod's own labels.
  for (const key of ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]) {
    const tsc = (spec.topologySpreadConstraints ?? []).find((x) => x.topologyKey === key);
    if (!tsc) problems.push(`${id(w)}: no topologySpreadConstraint over ${key}`);
    else if (!selectorMatches(tsc.labelSelector, t.metadata?.labels)) problems.push(`${id(w)}: topologySpreadConstraint over ${key} does not select the pod's own labels`);
  }

  // Resources: requests and limits; memory sized for MAX_CONNECTIONS at the measured cost.
  const req = c.resources?.requests ?? {};
  const lim = c.resources?.limits ?? {};
  for (const r of ["cpu", "memory"]) {
    if (req[r] === undefined) problems.push(`${who}: no ${r} request`);
    if (lim[r] === undefined) problems.push(`${who}: no ${r} limit`);
  }
  if (req.memory !== undefined && lim.memory !== undefined && quantity(req.memory) !== quantity(lim.memory)) {
    problems.push(`${who}: memory request ${req.memory} != limit ${lim.memory} (a pod holding long-lived connections should not be the first evicted under memory pressure)`);
  }
  if (s.maxConnections === undefined) {
    problems.push(`${who}: MILLIONWS_MAX_CONNECTIONS is not set: the descriptor limit, not the memory limit, would bound connections`);
  } else if (lim.memory !== undefined) {
    const max = Number(s.maxConnections);
    const need = (max * (USER_BYTES_PER_CONNECTION + KERNEL_BYTES_PER_CONNECTION) + FIXED_BYTES) * HEADROOM;
    if (quantity(lim.memory) < need) {
      problems.push(`${who}: memory limit ${lim.memory} < ${Math.ceil(need / 2 ** 20)} MiB needed for ${max} connections at ${USER_BYTES_PER_CONNECTION + KERNEL_BYTES_PER_CONNECTION} B each + 64 MiB, x${HEADROOM}`);
    }
  }
  if (s.threads !== undefined && lim.cpu !== undefined && Number(s.threads) > Math.ceil(quantity(lim.cpu))) {
    problems.push(`${who}: MILLIONWS_THREADS=${s.threads} reactors exceed the CPU limit ${lim.cpu}`);
  }

  // Services that select the server.
  const labels = t.metadata?.labels ?? {};
  const ns = (o) => o.metadata?.namespace ?? "default";
  const services = objs.filter((o) => o.kind === "Service" && ns(o) === ns(w) && o.spec?.selector &&
    Object.keys(o.spec.selector).length > 0 && Object.entries(o.spec.selector).every(([k, v]) => labels[k] === v));
  const targetOf = (p) => resolvePort(c, p.targetPort ?? p.port);
  const lbs = services.filter((x) => x.spec.type === "LoadBalancer");
  if (lbs.length === 0) problems.push(`${id(w)}: no LoadBalancer Service selects the server`);
  for (const lb of lbs) {
    for (const p of lb.spec.ports ?? []) {
      if (targetOf(p) !== s.port) problems.push(`${id(lb)}: port ${p.name ?? p.port} exposes ${JSON.stringify(p.targetPort)}, not the WebSocket port ${s.port} (only the WebSocket port belongs on the load balancer)`);
    }
    const a = lb.metadata?.annotations ?? {};
    if (a["service.beta.kubernetes.io/aws-load-balancer-type"] !== "external") problems.push(`${id(lb)}: aws-load-balancer-type must be "external" (AWS Load Balancer Controller, not the legacy in-tree controller)`);
    if (a["service.beta.kubernetes.io/aws-load-balancer-nlb-target-type"] !== "ip") problems.push(`${id(lb)}: aws-load-balancer-nlb-target-type must be "ip"`);
    if (!s.pingS) problems.push(`${who}: MILLIONWS_PING_INTERVAL is off, but the NLB drops flows idle for ${NLB_IDLE_TIMEOUT_S} s silently`);
    else if (s.pingS >= NLB_IDLE_TIMEOUT_S) problems.push(`${who}: MILLIONWS_PING_INTERVAL ${s.pingS}s is not below the NLB idle timeout ${NLB_IDLE_TIMEOUT_S}s`);
    if (s.idleS && s.pingS && s.idleS <= s.pingS) problems.push(`${who}: MILLIONWS_IDLE_TIMEOUT ${s.idleS}s must exceed the ping interval ${s.pingS}s (a live client answers pings)`);
  }

  // Scraping: a ServiceMonitor on a Service port that reaches the admin port, or pod annotations.
  const ann = t.metadata?.annotations ?? {};
  let scraped = false;
  if (ann["prometheus.io/scrape"] === "true") {
    if (Number(ann["prometheus.io/port"]) !== s.adminPort) problems.push(`${id(w)}: prometheus.io/port ${ann["prometheus.io/port"]} is not the admin port ${s.adminPort}`);
    else scraped = true;
  }
  for (const m of objs.filter((o) => o.kind === "ServiceMonitor")) {
    for (const svc of services.filter((x) => selectorMatches(m.spec?.selector, x.metadata?.labels))) {
      for (const e of m.spec?.endpoints ?? []) {
        const p = (svc.spec.ports ?? []).find((x) => x.name === e.port);
        if (!p) continue;
        if (targetOf(p) !== s.adminPort) problems.push(`${id(m)}: endpoint ${e.port} reaches port ${targetOf(p)}, not the admin port ${s.adminPort}`);
        else if ((e.path ?? "/metrics") !== "/metrics") problems.push(`${id(m)}: endpoint path ${e.path} is not /metrics`);
        else scraped = true;
      }
    }
  }
  if (!scraped) problems.push(`${id(w)}: nothing scrapes /metrics on the admin port (ServiceMonitor or prometheus.io annotations)`);

  // Autoscaling and disruption budget.
  const hpas = objs.filter((o) => o.kind === "HorizontalPodAutoscaler" && o.spec?.scaleTargetRef?.kind === w.kind &&
    o.spec?.scaleTargetRef?.name === w.metadata?.name && ns(o) === ns(w));
  if (hpas.length !== 1) problems.push(`${id(w)}: ${hpas.length} HPAs target the server (want exactly 1)`);
  for (const h of hpas) {
    const kinds = new Set((h.spec.metrics ?? []).map((m) => (m.type === "Resource" ? m.resource?.name : m.type === "Pods" ? m.pods?.metric?.name : m.type)));
    for (const want of ["cpu", "memory", "millionws_connections_active"]) {
      if (!kinds.has(want)) problems.push(`${id(h)}: no ${want} metric`);
    }
    const window = h.spec.behavior?.scaleDown?.stabilizationWindowSeconds;
    if (!(window >= 600)) problems.push(`${id(h)}: scaleDown.stabilizationWindowSeconds ${window} < 600: scaling down drops connections (each removed pod sends 1001 to all of its clients)`);
    if (options.adapterValues) {
      const served = adapterMetricNames(options.adapterValues);
      for (const m of h.spec.metrics ?? []) {
        if (m.type === "Pods" && !served.has(m.pods?.metric?.name)) {
          problems.push(`${id(h)}: Pods metric ${m.pods?.metric?.name} is not exposed by any prometheus-adapter rule in ${options.adapterValuesPath} (rules give: ${[...served].join(", ") || "none"})`);
        }
      }
    }
  }
  const pdbs = objs.filter((o) => o.kind === "PodDisruptionBudget" && ns(o) === ns(w) && selectorMatches(o.spec?.selector, labels));
  if (pdbs.length === 0) problems.push(`${id(w)}: no PodDisruptionBudget covers the server`);
  return problems;
}

/** Server checks over a render. `expectServer` makes a render without a server workload fail. */
export function millionwsCheck(objs, options = {}) {
  const servers = workloads(objs).filter(isServer);
  if (servers.length === 0) return options.expectServer ? ["no MillionWS server workload (labels app.kubernetes.io/name=millionws, app.kubernetes.io/component=server) in the render"] : [];
  return servers.flatMap((w) => checkServer(objs, w, options));
}
