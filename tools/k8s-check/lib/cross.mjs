// Cross-object checks that apply to any rendered kustomization: the references between objects
// that the API server does not check (or checks only when applying, one object at a time).
//
// Each check returns problem strings; `id(obj)` names an object as Kind/namespace/name.

export const id = (o) => `${o.kind}/${o.metadata?.namespace ?? "-"}/${o.metadata?.name ?? "?"}`;

const WORKLOAD_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"]);

/** The pod template (metadata + spec) of a workload, or null. */
export function podTemplate(o) {
  switch (o.kind) {
    case "Pod":
      return { metadata: o.metadata ?? {}, spec: o.spec ?? {} };
    case "CronJob":
      return o.spec?.jobTemplate?.spec?.template ?? null;
    default:
      return WORKLOAD_KINDS.has(o.kind) ? o.spec?.template ?? null : null;
  }
}

export const workloads = (objs) => objs.filter((o) => WORKLOAD_KINDS.has(o.kind) && podTemplate(o));

const ns = (o) => o.metadata?.namespace ?? "default";

/** Does a LabelSelector (matchLabels + matchExpressions) select these labels? */
export function selectorMatches(selector, labels = {}) {
  if (!selector) return false;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const vals = e.values ?? [];
    if (e.operator === "In" && !(has && vals.includes(labels[e.key]))) return false;
    if (e.operator === "NotIn" && has && vals.includes(labels[e.key])) return false;
    if (e.operator === "Exists" && !has) return false;
    if (e.operator === "DoesNotExist" && has) return false;
  }
  return true;
}

/** A Service's plain map selector. */
const mapMatches = (sel, labels = {}) => Object.entries(sel).every(([k, v]) => labels[k] === v);

const allContainers = (spec) => [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];

/** Does some container of the template declare this port (name or number)? */
export function findContainerPort(template, port, protocol = "TCP") {
  for (const c of template.spec?.containers ?? []) {
    for (const p of c.ports ?? []) {
      const proto = p.protocol ?? "TCP";
      if (proto !== protocol) continue;
      if (typeof port === "string" && p.name === port) return { container: c, port: p };
      if (typeof port === "number" && p.containerPort === port) return { container: c, port: p };
    }
  }
  return null;
}

/** A container port given by name or number, resolved within one container. */
export function resolvePort(container, port) {
  if (typeof port === "number") return port;
  if (typeof port === "string" && /^\d+$/.test(port)) return Number(port);
  const p = (container.ports ?? []).find((x) => x.name === port);
  return p ? p.containerPort : null;
}

function checkWorkloadSelectors(objs) {
  const problems = [];
  for (const w of workloads(objs)) {
    if (w.kind === "Pod" || w.kind === "Job" || w.kind === "CronJob") continue;
    const labels = podTemplate(w).metadata?.labels ?? {};
    if (!w.spec?.selector) problems.push(`${id(w)}: no spec.selector`);
    else if (!selectorMatches(w.spec.selector, labels)) {
      problems.push(`${id(w)}: spec.selector ${JSON.stringify(w.spec.selector)} does not match its own pod template labels ${JSON.stringify(labels)}`);
    }
  }
  return problems;
}

function checkProbesAndPorts(objs) {
  const problems = [];
  for (const w of workloads(objs)) {
    const t = podTemplate(w);
    for (const c of allContainers(t.spec)) {
      const names = new Set();
      for (const p of c.ports ?? []) {
        if (p.name && names.has(p.name)) problems.push(`${id(w)}: container ${c.name} declares port name ${p.name} twice`);
        if (p.name) names.add(p.name);
      }
      const envNames = new Set();
      for (const e of c.env ?? []) {
        if (envNames.has(e.name)) problems.push(`${id(w)}: container ${c.name} sets env ${e.name} twice (the last one wins silently)`);
        envNames.add(e.name);
      }
      for (const probeName of ["livenessProbe", "readinessProbe", "startupProbe"]) {
        const probe = c[probeName];
        if (!probe) continue;
        const handler = probe.httpGet ?? probe.tcpSocket ?? probe.grpc;
        if (handler && handler.port !== undefined && resolvePort(c, handler.port) === null) {
          problems.push(`${id(w)}: container ${c.name} ${probeName} port ${JSON.stringify(handler.port)} is not a port of the container`);
        }
      }
    }
  }
  return problems;
}

function checkServices(objs) {
  const problems = [];
  const ws = workloads(objs);
  for (const s of objs.filter((o) => o.kind === "Service")) {
    const sel = s.spec?.selector;
    if (!sel || Object.keys(sel).length === 0) continue; // selectorless Service: endpoints are managed elsewhere
    const matched = ws.filter((w) => ns(w) === ns(s) && mapMatches(sel, podTemplate(w).metadata?.labels));
    if (matched.length === 0) {
      problems.push(`${id(s)}: selector ${JSON.stringify(sel)} matches no pod template in the rendered output`);
      continue;
    }
    for (const p of s.spec?.ports ?? []) {
      const target = p.targetPort ?? p.port;
      for (const w of matched) {
        if (!findContainerPort(podTemplate(w), target, p.protocol ?? "TCP")) {
          problems.push(`${id(s)}: port ${p.name ?? p.port} targets ${JSON.stringify(target)}, which no container of ${id(w)} declares`);
        }
      }
    }
  }
  return problems;
}

function workloadRef(objs, from, ref) {
  return objs.find((o) => o.kind === ref?.kind && o.metadata?.name === ref?.name && ns(o) === ns(from) &&
    (!ref.apiVersion || o.apiVersion === ref.apiVersion));
}

function checkHpas(objs) {
  const problems = [];
  for (const h of objs.filter((o) => o.kind === "HorizontalPodAutoscaler")) {
    const target = workloadRef(objs, h, h.spec?.scaleTargetRef);
    if (!target) {
      problems.push(`${id(h)}: scaleTargetRef ${JSON.stringify(h.spec?.scaleTargetRef)} is not in the rendered output`);
      continue;
    }
    const min = h.spec.minReplicas ?? 1;
    if (min > h.spec.maxReplicas) problems.push(`${id(h)}: minReplicas ${min} > maxReplicas ${h.spec.maxReplicas}`);
    if (target.spec?.replicas !== undefined) {
      problems.push(`${id(h)}: ${id(target)} sets spec.replicas while this HPA scales it: every apply would reset the replica count; leave replicas out`);
    }
    const t = podTemplate(target);
    for (const m of h.spec.metrics ?? []) {
      const res = m.type === "Resource" ? m.resource : m.type === "ContainerResource" ? m.containerResource : null;
      if (!res || res.target?.type !== "Utilization") continue;
      for (const c of t?.spec?.containers ?? []) {
        if (m.type === "ContainerResource" && c.name !== res.container) continue;
        if (c.resources?.requests?.[res.name] === undefined) {
          problems.push(`${id(h)}: ${res.name} utilization needs a ${res.name} request on container ${c.name} of ${id(target)}`);
        }
      }
    }
  }
  return problems;
}

/** The replicas a workload runs at its lowest: the HPA's minReplicas, else spec.replicas (default 1). */
function lowestReplicas(objs, w) {
  const h = objs.find((o) => o.kind === "HorizontalPodAutoscaler" && workloadRef(objs, o, o.spec?.scaleTargetRef) === w);
  if (h) return h.spec.minReplicas ?? 1;
  return w.spec?.replicas ?? 1;
}

function checkPdbs(objs) {
  const problems = [];
  for (const p of objs.filter((o) => o.kind === "PodDisruptionBudget")) {
    const matched = workloads(objs).filter((w) => ns(w) === ns(p) && selectorMatches(p.spec?.selector, podTemplate(w).metadata?.labels));
    if (matched.length === 0) {
      problems.push(`${id(p)}: selector ${JSON.stringify(p.spec?.selector)} matches no pod template in the rendered output`);
      continue;
    }
    const { minAvailable, maxUnavailable } = p.spec;
    for (const w of matched) {
      const low = lowestReplicas(objs, w);
      const pct = (v) => Number(String(v).replace("%", ""));
      let blocks = false;
      if (maxUnavailable !== undefined) blocks = String(maxUnavailable).endsWith("%") ? Math.floor((pct(maxUnavailable) * low) / 100) < 1 : maxUnavailable < 1;
      if (minAvailable !== undefined) blocks = String(minAvailable).endsWith("%") ? Math.ceil((pct(minAvailable) * low) / 100) >= low : minAvailable >= low;
      if (blocks) {
        problems.push(`${id(p)}: at ${low} replica(s) of ${id(w)} it allows no eviction at all (node drains and upgrades would hang)`);
      }
    }
  }
  return problems;
}

function checkServiceMonitors(objs) {
  const problems = [];
  for (const m of objs.filter((o) => o.kind === "ServiceMonitor")) {
    const nsSel = m.spec?.namespaceSelector;
    const inScope = (o) => (nsSel?.any ? true : nsSel?.matchNames ? nsSel.matchNames.includes(ns(o)) : ns(o) === ns(m));
    const services = objs.filter((o) => o.kind === "Service" && inScope(o) && selectorMatches(m.spec?.selector, o.metadata?.labels));
    if (services.length === 0) {
      problems.push(`${id(m)}: selector ${JSON.stringify(m.spec?.selector)} matches no Service label set in scope`);
      continue;
    }
    for (const e of m.spec?.endpoints ?? []) {
      for (const s of services) {
        const ok = e.port !== undefined
          ? (s.spec?.ports ?? []).some((p) => p.name === e.port)
          : e.targetPort !== undefined
            ? (s.spec?.ports ?? []).some((p) => String(p.targetPort ?? p.port) === String(e.targetPort))
            : false;
        if (!ok) problems.push(`${id(m)}: endpoint port ${JSON.stringify(e.port ?? e.targetPort)} is not a named port of ${id(s)}`);
      }
    }
  }
  return problems;
}

function checkNamespaces(objs) {
  const declared = new Set(objs.filter((o) => o.kind === "Namespace").map((o) => o.metadata?.name));
  if (declared.size === 0) return [];
  const problems = [];
  for (const o of objs) {
    if (o.kind === "Namespace" || o.metadata?.namespace === undefined) continue;
    if (!declared.has(o.metadata.namespace)) problems.push(`${id(o)}: namespace ${o.metadata.namespace} is not among the rendered Namespaces`);
  }
  return problems;
}

function checkDuplicates(objs) {
  const seen = new Set();
  const problems = [];
  for (const o of objs) {
    const key = `${o.apiVersion}|${id(o)}`;
    if (seen.has(key)) problems.push(`${id(o)}: rendered twice`);
    seen.add(key);
  }
  return problems;
}

/** Every generic cross-object check. */
export function crossCheck(objs) {
  return [
    ...checkDuplicates(objs),
    ...checkNamespaces(objs),
    ...checkWorkloadSelectors(objs),
    ...checkProbesAndPorts(objs),
    ...checkServices(objs),
    ...checkHpas(objs),
    ...checkPdbs(objs),
    ...checkServiceMonitors(objs),
  ];
}
