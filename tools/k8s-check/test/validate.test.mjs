// Self-test of validate.mjs: each check must pass the real manifests and fail on a broken copy.
// Run: node --test tools/k8s-check/test/validate.test.mjs   (part of `just k8s-check`)
//
// Fixture directories (test/fixtures/k8s-*) go through the CLI, kustomize included; the other
// cases break one thing in the rendered deploy/millionws in memory.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { checkObjects, loadAdapterValues } from "../validate.mjs";
import { render } from "../lib/render.mjs";
import { adapterCheck } from "../lib/adapter.mjs";
import { parseDuration, preStopSeconds } from "../lib/millionws.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../../..");
const cli = path.join(here, "../validate.mjs");
const fixture = (name) => path.join(here, "fixtures", name);
const deployDir = path.join(root, "deploy/millionws");
const adapterPath = path.join(deployDir, "prometheus-adapter/values.yaml");

function runCli(args) {
  try {
    const out = execFileSync(process.execPath, [cli, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return { code: 0, out };
  } catch (e) {
    return { code: e.status, out: `${e.stdout}${e.stderr}` };
  }
}

const serverOptions = () => ({
  expectServer: true,
  allowedUnsafeSysctls: ["net.core.somaxconn"],
  adapterValues: loadAdapterValues(adapterPath).values,
  adapterValuesPath: adapterPath,
});

// Rendered once; every case gets its own deep copy.
let rendered;
const fresh = () => {
  rendered ??= JSON.stringify(render(deployDir));
  return JSON.parse(rendered);
};
const find = (objs, kind, name = "millionws") => objs.find((o) => o.kind === kind && o.metadata.name === name);
const server = (objs) => find(objs, "Deployment");
const container = (objs) => server(objs).spec.template.spec.containers[0];
const env = (objs, name) => container(objs).env.find((e) => e.name === name);

/** Breaks one thing in a fresh render and returns the problems found. */
function problemsAfter(mutate, options = serverOptions()) {
  const objs = fresh();
  mutate(objs);
  return checkObjects(objs, options);
}

const expectProblem = (problems, pattern) =>
  assert.ok(problems.some((p) => pattern.test(p)), `expected a problem matching ${pattern}, got:\n${problems.join("\n") || "(none)"}`);

// --- the CLI on fixture kustomizations ----------------------------------------------------------

test("fixture: a valid kustomization passes (exit 0)", () => {
  const r = runCli([fixture("k8s-good")]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /^ok .*3 objects/m);
});

test("fixture: a misspelled field deep in a pod spec fails (containers[0].securityContext.capabilities.drpo)", () => {
  const r = runCli([fixture("k8s-deep-typo")]);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /\/spec\/template\/spec\/containers\/0\/securityContext\/capabilities\/drpo: unknown field/);
});

test("fixture: a Service selector that matches no pod fails", () => {
  const r = runCli([fixture("k8s-wrong-selector")]);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /Service\/-\/echo: selector \{"app":"echo-server"\} matches no pod template/);
});

test("fixture: an API version EKS no longer serves fails (policy/v1beta1)", () => {
  const r = runCli([fixture("k8s-removed-api")]);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /policy\/v1beta1 is not served by any supported EKS version/);
});

test("fixture: --expect-server fails on a kustomization without the MillionWS server", () => {
  const r = runCli(["--expect-server", fixture("k8s-good")]);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /no MillionWS server workload/);
});

test("a directory that is not a kustomization is a usage error (exit 2), not a pass", () => {
  const r = runCli([here]);
  assert.equal(r.code, 2, r.out);
});

// --- deploy/millionws as shipped, then broken one thing at a time ----------------------------

test("deploy/millionws passes every check", () => {
  const objs = fresh();
  assert.deepEqual(objs.map((o) => o.kind).sort(),
    ["Deployment", "HorizontalPodAutoscaler", "Namespace", "PodDisruptionBudget", "Service", "Service", "ServiceMonitor"]);
  assert.deepEqual(checkObjects(objs, serverOptions()), []);
  assert.deepEqual(adapterCheck(loadAdapterValues(adapterPath).values, adapterPath), []);
});

test("deep typo in the real pod spec: livenessProbe.httpGet.paht", () => {
  const p = problemsAfter((o) => {
    const g = container(o).livenessProbe.httpGet;
    g.paht = g.path;
    delete g.path;
  });
  expectProblem(p, /containers\/0\/livenessProbe\/httpGet\/paht: unknown field/);
});

test("typo in a ServiceMonitor endpoint (prometheus-operator schema): scrapeTimout", () => {
  const p = problemsAfter((o) => { find(o, "ServiceMonitor").spec.endpoints[0].scrapeTimout = "10s"; });
  expectProblem(p, /ServiceMonitor.*endpoints\/0\/scrapeTimout: unknown field/);
});

test("wrong type is a schema error: containerPort as a string", () => {
  const p = problemsAfter((o) => { container(o).ports[0].containerPort = "8080"; });
  expectProblem(p, /containerPort must be integer/);
});

test("bad quantity: memory 1.5GB", () => {
  const p = problemsAfter((o) => { container(o).resources.limits.memory = "1.5GB"; });
  expectProblem(p, /limits\/memory: "1.5GB" is not a Kubernetes quantity/);
});

test("wrong Service selector on the NLB Service", () => {
  const p = problemsAfter((o) => { find(o, "Service").spec.selector["app.kubernetes.io/component"] = "sever"; });
  expectProblem(p, /Service\/millionws\/millionws: selector .* matches no pod template/);
});

test("Deployment selector not matching its template", () => {
  const p = problemsAfter((o) => { server(o).spec.selector.matchLabels["app.kubernetes.io/name"] = "other"; });
  expectProblem(p, /spec.selector .* does not match its own pod template labels/);
});

test("Service targetPort the container does not declare", () => {
  const p = problemsAfter((o) => { find(o, "Service", "millionws-metrics").spec.ports[0].targetPort = "metrics"; });
  expectProblem(p, /millionws-metrics: port metrics targets "metrics", which no container/);
});

test("HPA targeting a Deployment that is not rendered", () => {
  const p = problemsAfter((o) => { find(o, "HorizontalPodAutoscaler").spec.scaleTargetRef.name = "millionws-server"; });
  expectProblem(p, /scaleTargetRef .* is not in the rendered output/);
});

test("Deployment with replicas while the HPA owns the count", () => {
  const p = problemsAfter((o) => { server(o).spec.replicas = 3; });
  expectProblem(p, /sets spec.replicas while this HPA scales it/);
});

test("PDB that allows no eviction (minAvailable = HPA minReplicas)", () => {
  const p = problemsAfter((o) => {
    const pdb = find(o, "PodDisruptionBudget");
    delete pdb.spec.maxUnavailable;
    pdb.spec.minAvailable = 3;
  });
  expectProblem(p, /allows no eviction at all/);
});

test("PDB selecting nothing", () => {
  const p = problemsAfter((o) => { find(o, "PodDisruptionBudget").spec.selector.matchLabels.app = "x"; });
  expectProblem(p, /PodDisruptionBudget.*matches no pod template/);
});

test("readiness probe on the WebSocket port instead of the admin port", () => {
  const p = problemsAfter((o) => { container(o).readinessProbe.httpGet.port = "ws"; });
  expectProblem(p, /readinessProbe port "ws" is not the admin port 9090/);
});

test("liveness probe on another path", () => {
  const p = problemsAfter((o) => { container(o).livenessProbe.httpGet.path = "/healthz"; });
  expectProblem(p, /livenessProbe path \/healthz is not \/health/);
});

test("grace period not longer than preStop + drain timeout", () => {
  const p = problemsAfter((o) => { env(o, "MILLIONWS_DRAIN_TIMEOUT").value = "1m"; });
  expectProblem(p, /terminationGracePeriodSeconds 180 must exceed preStop 120s \+ drain timeout 60s/);
});

test("ping interval at or above the NLB idle timeout", () => {
  const p = problemsAfter((o) => { env(o, "MILLIONWS_PING_INTERVAL").value = "6m"; });
  expectProblem(p, /PING_INTERVAL 360s is not below the NLB idle timeout 350s/);
});

test("admin port exposed on the load balancer", () => {
  const p = problemsAfter((o) => { find(o, "Service").spec.ports.push({ name: "admin", port: 9090, targetPort: "admin", protocol: "TCP" }); });
  expectProblem(p, /exposes "admin", not the WebSocket port 8080/);
});

test("ServiceMonitor scraping the WebSocket port", () => {
  const p = problemsAfter((o) => { find(o, "Service", "millionws-metrics").spec.ports[0].targetPort = "ws"; });
  expectProblem(p, /endpoint metrics reaches port 8080, not the admin port 9090/);
});

test("memory limit too small for MILLIONWS_MAX_CONNECTIONS", () => {
  const p = problemsAfter((o) => { env(o, "MILLIONWS_MAX_CONNECTIONS").value = "400000"; });
  expectProblem(p, /memory limit 1536Mi < \d+ MiB needed for 400000 connections/);
});

test("container that may escalate privileges", () => {
  const p = problemsAfter((o) => { container(o).securityContext.allowPrivilegeEscalation = true; });
  expectProblem(p, /allowPrivilegeEscalation is not false/);
});

test("unsafe sysctl without a node pool that allows it", () => {
  const p = problemsAfter(() => {}, { ...serverOptions(), allowedUnsafeSysctls: [] });
  expectProblem(p, /sysctl net.core.somaxconn is unsafe/);
});

test("HPA Pods metric that no prometheus-adapter rule exposes", () => {
  const p = problemsAfter((o) => { find(o, "HorizontalPodAutoscaler").spec.metrics[0].pods.metric.name = "millionws_connections"; });
  expectProblem(p, /Pods metric millionws_connections is not exposed by any prometheus-adapter rule/);
});

test("HPA scale-down window too short for long-lived connections", () => {
  const p = problemsAfter((o) => { find(o, "HorizontalPodAutoscaler").spec.behavior.scaleDown.stabilizationWindowSeconds = 60; });
  expectProblem(p, /stabilizationWindowSeconds 60 < 600/);
});

test("HPA at autoscaling/v2beta2 (removed in 1.26)", () => {
  const p = problemsAfter((o) => { find(o, "HorizontalPodAutoscaler").apiVersion = "autoscaling/v2beta2"; });
  expectProblem(p, /autoscaling\/v2beta2 is not served/);
});

test("a kind no schema knows", () => {
  const p = problemsAfter((o) => { o.push({ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" } }); });
  expectProblem(p, /no schema for example.com\/v1 Widget/);
});

// --- prometheus-adapter rules and small parsers ---------------------------------------------

test("prometheus-adapter rule with a misspelled key and no pod mapping", () => {
  const values = loadAdapterValues(adapterPath).values;
  const rule = values.rules.custom[0];
  rule.seriesQuerry = rule.seriesQuery;
  delete rule.seriesQuery;
  delete rule.resources.overrides.pod;
  const p = adapterCheck(values, "values.yaml");
  expectProblem(p, /seriesQuerry is not a rule key/);
  expectProblem(p, /seriesQuery missing/);
  expectProblem(p, /do not map the namespace and pod labels/);
});

test("README durations and preStop pauses parse as the server and kubelet read them", () => {
  assert.equal(parseDuration("500ms"), 0.5);
  assert.equal(parseDuration("10s"), 10);
  assert.equal(parseDuration("2m"), 120);
  assert.equal(parseDuration("1h"), 3600);
  assert.equal(parseDuration("7"), 7);
  assert.equal(parseDuration("off"), 0);
  assert.equal(parseDuration("ten"), null);
  assert.equal(preStopSeconds({ lifecycle: { preStop: { exec: { command: ["/bin/sleep", "120"] } } } }), 120);
  assert.equal(preStopSeconds({ lifecycle: { preStop: { exec: { command: ["sh", "-c", "sleep 15"] } } } }), 15);
  assert.equal(preStopSeconds({ lifecycle: { preStop: { sleep: { seconds: 20 } } } }), 20);
  assert.equal(preStopSeconds({ lifecycle: { preStop: { exec: { command: ["/bin/true"] } } } }), null);
});

test("--unchecked-kind lists a custom resource as not schema-checked instead of failing", () => {
  const objs = [{ apiVersion: "locust.io/v1", kind: "LocustTest", metadata: { name: "t" }, spec: { workerReplicas: 2 } }];
  assert.match(checkObjects(JSON.parse(JSON.stringify(objs)), {}).join("\n"), /no schema for locust.io\/v1 LocustTest/);
  const notes = [];
  assert.deepEqual(checkObjects(objs, { uncheckedKinds: ["locust.io/v1/LocustTest"], notes }), []);
  assert.match(notes.join("\n"), /LocustTest not schema-checked/);
});

test("an extra field is caught in every typed object of the real render, at every depth", () => {
  // Maps (free keys by design) are the only objects allowed to take any key.
  const maps = /\/(labels|annotations|matchLabels|nodeSelector|limits|requests)$|^\/spec\/selector$/;
  const objs = fresh();
  let tried = 0;
  objs.forEach((obj, n) => {
    const paths = [];
    const walk = (v, p) => {
      if (Array.isArray(v)) return v.forEach((x, i) => walk(x, `${p}/${i}`));
      if (v === null || typeof v !== "object") return;
      if (!(obj.kind === "Service" ? maps.test(p) : maps.test(p) && p !== "/spec/selector")) paths.push(p);
      for (const [k, x] of Object.entries(v)) walk(x, `${p}/${k}`);
    };
    walk(obj, "");
    for (const p of paths) {
      const copy = fresh();
      const target = p.split("/").slice(1).reduce((o, k) => o[k], copy[n]);
      target.zzzMisspelled = 1;
      const problems = checkObjects(copy, serverOptions());
      assert.ok(problems.some((x) => x.includes(`${p}/zzzMisspelled: unknown field`)), `${obj.kind} ${p}: extra field not caught:\n${problems.join("\n")}`);
      tried++;
    }
  });
  assert.ok(tried > 60, `only ${tried} objects tried`);
  console.log(`extra field caught in each of ${tried} typed objects`);
});

test("an empty stream (a failed render piped in) is a failure, not ok", () => {
  const problems = checkObjects([]);
  assert.ok(problems.some((p) => /no objects/.test(p)), problems.join("\n") || "(none)");
});
