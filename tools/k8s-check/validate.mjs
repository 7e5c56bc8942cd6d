#!/usr/bin/env node
// Offline, strict check of Kubernetes kustomizations. No cluster needed.
//
// Usage:
//   node tools/k8s-check/validate.mjs [options] <kustomize-dir>...
//   node tools/k8s-check/validate.mjs [options] --file <rendered.yaml>...
//
// For each directory: render it (`kubectl kustomize DIR` with KUBECONFIG=/dev/null, or
// `kustomize build DIR` where kubectl is missing), then check every rendered object:
//   1. schema, strictly: kubernetes-models 4.5.1 (Kubernetes 1.27 API) and
//      @kubernetes-models/prometheus-operator 4.4.4 (ServiceMonitor, PodMonitor, ...); unknown or
//      misspelled fields are rejected at any depth, and so are kinds with no schema and API
//      versions no supported EKS version serves (policy/v1beta1, autoscaling/v2beta2, ...);
//      resource quantities must parse;
//   2. cross-object, for any kustomization: workload selectors match their pod templates, Service
//      selectors match a pod template and target ports the containers declare, probe ports exist,
//      HPA targets resolve (and the target leaves `replicas` to the HPA), PDBs select something
//      and still allow an eviction, ServiceMonitors select a Service and name its ports, objects
//      are in rendered Namespaces, nothing is rendered twice;
//   3. MillionWS server checks, for pod templates labelled app.kubernetes.io/name=millionws and
//      app.kubernetes.io/component=server (lib/millionws.mjs): probes on /health at the admin
//      port, grace period > preStop + drain timeout, restricted security context, sysctls, spread,
//      memory limit vs MILLIONWS_MAX_CONNECTIONS at the measured per-connection cost, NLB
//      annotations and ping interval < the NLB idle timeout, scraping on the admin port, HPA
//      metrics (and prometheus-adapter rules) and a PDB.
//
// Options:
//   --expect-server                 fail if a directory has no MillionWS server workload
//   --adapter-values FILE           prometheus-adapter Helm values: check its rules and that they
//                                   expose every Pods metric the HPAs use
//   --allowed-unsafe-sysctls a,b    sysctls the target nodes' kubelet allows (allowedUnsafeSysctls)
//   --unchecked-kind API/KIND       a custom resource with no schema offline (e.g.
//                                   locust.io/v1/LocustTest): listed as not schema-checked instead
//                                   of failing; checks 2 and 3 still see it. Repeatable.
//   --file                          the arguments are rendered YAML streams, not directories
//
// Exit status: 0 all good, 1 problems found, 2 usage or rendering error.
// Another directory (e.g. locust/, deploy/load/) gets checks 1 and 2, and 3 only for server pods.

import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import yaml from "js-yaml";
import { render, parseStream } from "./lib/render.mjs";
import { validateObject } from "./lib/schema.mjs";
import { crossCheck, id } from "./lib/cross.mjs";
import { millionwsCheck } from "./lib/millionws.mjs";
import { adapterCheck } from "./lib/adapter.mjs";

/** Checks rendered objects; returns problem strings. Exported for the self-test. */
export function checkObjects(objs, options = {}) {
  const problems = [];
  // An empty stream is what a failed render piped in looks like: never "ok".
  if (objs.length === 0) problems.push("no objects: an empty render validates nothing");
  const unchecked = new Set(options.uncheckedKinds ?? []);
  for (const o of objs) {
    if (unchecked.has(`${o.apiVersion}/${o.kind}`)) {
      options.notes?.push(`${id(o)}: ${o.apiVersion} ${o.kind} not schema-checked (--unchecked-kind)`);
      continue;
    }
    for (const p of validateObject(o)) problems.push(`${id(o)}: ${p}`);
  }
  problems.push(...crossCheck(objs));
  problems.push(...millionwsCheck(objs, options));
  return problems;
}

export function loadAdapterValues(file) {
  const values = yaml.load(fs.readFileSync(file, "utf8"), { filename: file });
  return { values, problems: adapterCheck(values, file) };
}

function parseArgs(argv) {
  const opts = { expectServer: false, files: false, allowedUnsafeSysctls: [], uncheckedKinds: [], targets: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--expect-server") opts.expectServer = true;
    else if (a === "--file") opts.files = true;
    else if (a === "--adapter-values") opts.adapterValuesPath = argv[++i];
    else if (a === "--unchecked-kind") opts.uncheckedKinds.push(argv[++i] ?? "");
    else if (a === "--allowed-unsafe-sysctls") opts.allowedUnsafeSysctls = (argv[++i] ?? "").split(",").filter(Boolean);
    else if (a === "-h" || a === "--help") opts.help = true;
    else if (a.startsWith("-")) throw new Error(`unknown option ${a}`);
    else opts.targets.push(a);
  }
  return opts;
}

function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`validate: ${e.message}`);
    return 2;
  }
  if (opts.help || opts.targets.length === 0) {
    const head = fs.readFileSync(new URL(import.meta.url), "utf8").split("\n").slice(1).filter((l) => l.startsWith("//"));
    console.error(head.map((l) => l.slice(3)).join("\n"));
    return opts.help ? 0 : 2;
  }
  let failed = false;
  if (opts.adapterValuesPath) {
    try {
      const { values, problems } = loadAdapterValues(opts.adapterValuesPath);
      opts.adapterValues = values;
      for (const p of problems) console.error(`FAIL ${p}`);
      failed ||= problems.length > 0;
    } catch (e) {
      console.error(`validate: ${opts.adapterValuesPath}: ${e.message}`);
      return 2;
    }
  }
  for (const target of opts.targets) {
    let objs;
    try {
      objs = opts.files ? parseStream(fs.readFileSync(target, "utf8"), target) : render(target);
    } catch (e) {
      console.error(`validate: ${e.message}`);
      return 2;
    }
    const notes = [];
    const problems = checkObjects(objs, { ...opts, notes });
    const where = path.normalize(target);
    for (const n of notes) console.log(`note ${where}: ${n}`);
    if (problems.length === 0) {
      console.log(`ok   ${where}: ${objs.length} objects (${objs.map((o) => `${o.kind}/${o.metadata?.name}`).join(", ")})`);
    } else {
      failed = true;
      for (const p of problems) console.error(`FAIL ${where}: ${p}`);
    }
  }
  return failed ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = main();
}
