// Checks that span deploy/millionws and infra/terraform: the server pods must land on the nodes
// the EKS module prepares for them, and the server node groups must hold the HPA's maximum.
//
//  - the Deployment's nodeSelector labels and its tolerations are the server node groups' labels
//    and taints (modules/eks/main.tf, local.server_groups);
//  - every unsafe sysctl the pods set is in the server kubelet's allowedUnsafeSysctls
//    (modules/eks variable server_allowed_unsafe_sysctls);
//  - a node group named "load" exists;
//  - for each cluster's terraform.tfvars.example: three server groups (one per zone) x max_size x
//    server pods per node >= HPA maxReplicas x (1 + the rollout's maxSurge), and at min_size
//    they hold minReplicas. Pods per node from the instance type's vCPUs and memory less what the
//    kubelet, the OS and the DaemonSets keep (an estimate, docs/capacity.md).

import path from "node:path";
import fs from "node:fs";
import { parse } from "@cdktf/hcl2json";
import { podTemplate } from "./cross.mjs";
import { isServer, quantity, SAFE_SYSCTLS } from "./millionws.mjs";

// vCPUs and GiB of the fixed-performance families the docs consider (AWS instance type specs).
const VCPUS = { large: 2, xlarge: 4, "2xlarge": 8, "4xlarge": 16, "8xlarge": 32, "12xlarge": 48, "16xlarge": 64 };
const GIB_PER_VCPU = { c7i: 2, c6i: 2, c7a: 2, c6a: 2, m7i: 4, m6i: 4, m7a: 4, m6a: 4, r7i: 8, r6i: 8 };

export function instanceShape(type) {
  const [family, size] = String(type).split(".");
  if (!(family in GIB_PER_VCPU) || !(size in VCPUS)) return null;
  const vcpu = VCPUS[size];
  return { vcpu, memGiB: vcpu * GIB_PER_VCPU[family] };
}

// What a node keeps for itself: ~0.5 vCPU (kubelet/containerd reservation plus the aws-node,
// kube-proxy, pod identity and node-exporter DaemonSets), 7% of memory for the OS and 1 GiB for
// kube-reserved and eviction thresholds.
export function podsPerNode(type, cpuRequest, memRequestBytes) {
  const s = instanceShape(type);
  if (!s) return null;
  const cpu = Math.floor((s.vcpu - 0.5) / cpuRequest);
  const mem = Math.floor((s.memGiB * 2 ** 30 * 0.93 - 2 ** 30) / memRequestBytes);
  return Math.max(0, Math.min(cpu, mem));
}

const pct = (v, base) => (String(v).endsWith("%") ? Math.ceil((Number(String(v).slice(0, -1)) * base) / 100) : Number(v));

export async function consistencyCheck(objs, modules, tree) {
  const p = [];
  const eks = [...modules.values()].find((m) => Object.values(m.modules).some((c) => c.source === "terraform-aws-modules/eks/aws"));
  if (!eks) return [`${tree}: no module calls terraform-aws-modules/eks/aws`];
  const groupsText = eks.locals.server_groups?.value ?? "";
  if (!groupsText) p.push(`${eks.dir}: no local.server_groups`);
  const localsText = Object.values(eks.locals).map((l) => (typeof l.value === "string" ? l.value : JSON.stringify(l.value))).join("\n");
  if (!/"name"\s*:\s*"load"|\bname\s*=\s*"load"/.test(localsText)) {
    p.push(`${eks.dir}: no node group named "load"`);
  }
  const allowed = eks.variables.server_allowed_unsafe_sysctls?.default ?? [];
  for (const w of objs.filter((o) => o.kind === "Deployment" && isServer(o))) {
    const spec = podTemplate(w).spec ?? {};
    for (const [k, v] of Object.entries(spec.nodeSelector ?? {})) {
      if (!new RegExp(`labels\\s*=\\s*\\{[^}]*"${k.replace(/\./g, "\\.")}"\\s*=\\s*"${v}"`).test(groupsText)) {
        p.push(`Deployment ${w.metadata.name}: nodeSelector ${k}=${v} is not a label of the server node groups in ${eks.dir}`);
      }
    }
    for (const t of spec.tolerations ?? []) {
      const effect = { NoSchedule: "NO_SCHEDULE", NoExecute: "NO_EXECUTE", PreferNoSchedule: "PREFER_NO_SCHEDULE" }[t.effect];
      if (!new RegExp(`key\\s*=\\s*"${t.key}"\\s*,\\s*value\\s*=\\s*"${t.value}"\\s*,\\s*effect\\s*=\\s*"${effect}"`).test(groupsText)) {
        p.push(`Deployment ${w.metadata.name}: toleration ${t.key}=${t.value}:${t.effect} matches no taint of the server node groups`);
      }
    }
    const taintKeys = [...groupsText.matchAll(/key\s*=\s*"([^"]+)"\s*,\s*value\s*=\s*"([^"]+)"/g)];
    for (const [, key, value] of taintKeys) {
      if (!(spec.tolerations ?? []).some((t) => t.key === key && (t.operator === "Exists" || t.value === value))) {
        p.push(`Deployment ${w.metadata.name}: does not tolerate the server nodes' taint ${key}=${value}`);
      }
    }
    for (const s of spec.securityContext?.sysctls ?? []) {
      if (!SAFE_SYSCTLS.has(s.name) && !allowed.includes(s.name)) p.push(`Deployment ${w.metadata.name}: sysctl ${s.name} is not in server_allowed_unsafe_sysctls (${allowed.join(", ")})`);
    }

    // Capacity of the server node groups per cluster.
    const hpa = objs.find((o) => o.kind === "HorizontalPodAutoscaler" && o.spec?.scaleTargetRef?.name === w.metadata.name);
    const c = spec.containers?.[0];
    const cpu = quantity(c?.resources?.requests?.cpu);
    const mem = quantity(c?.resources?.requests?.memory);
    if (!hpa || !cpu || !mem) continue;
    const surge = pct(w.spec?.strategy?.rollingUpdate?.maxSurge ?? "25%", hpa.spec.maxReplicas);
    const needMax = hpa.spec.maxReplicas + surge;
    for (const root of [...modules.values()].filter((m) => m.terraform.some((t) => t.backend))) {
      const example = path.join(root.dir, "terraform.tfvars.example");
      if (!fs.existsSync(example)) continue;
      const values = await parse(example, fs.readFileSync(example, "utf8"));
      const sn = values.server_nodes;
      if (!sn) {
        p.push(`${example}: no server_nodes`);
        continue;
      }
      for (const type of sn.instance_types ?? []) {
        const per = podsPerNode(type, cpu, mem);
        if (per === null) {
          p.push(`${example}: server instance type ${type} is not in the capacity table (tools/k8s-check/lib/consistency.mjs): cannot check capacity`);
          continue;
        }
        const atMax = 3 * sn.max_size * per;
        const atMin = 3 * sn.min_size * per;
        if (atMax < needMax) p.push(`${example}: 3 zones x ${sn.max_size} ${type} x ${per} pods = ${atMax} < HPA maxReplicas ${hpa.spec.maxReplicas} + surge ${surge}`);
        if (atMin < (hpa.spec.minReplicas ?? 1)) p.push(`${example}: 3 zones x ${sn.min_size} ${type} x ${per} pods = ${atMin} < HPA minReplicas ${hpa.spec.minReplicas}`);
      }
    }
  }
  return p;
}
