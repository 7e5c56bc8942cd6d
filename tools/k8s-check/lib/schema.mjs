// Strict schema validation of one Kubernetes object, offline.
//
// kubernetes-models 4.5.1 (Kubernetes 1.27 OpenAPI) and @kubernetes-models/prometheus-operator
// 4.4.4 ship ajv validators compiled to JavaScript, not JSON schemas. Those validators accept any
// field they do not know (OpenAPI objects are open), so a misspelled `readinesProbe` passes. The
// strict check here runs the compiled validator on a Proxy of the object and records every
// property the validator reads: a compiled validator reads each property its schema declares
// (`void 0 === data.x || validate(data.x)`), and enumerates the keys of maps (labels,
// annotations, resources.limits). A key the validator neither read nor could see by enumerating
// is undeclared at that depth: an unknown field.
//
// An object the validator reached but read nothing from and did not enumerate has a free-form
// schema (no properties); its keys cannot be judged and are reported as unchecked, not accepted
// silently (none of MillionWS's manifests has one).

import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

// Group/versions that no supported EKS version serves any more. EKS's standard and extended
// support windows start at Kubernetes 1.29 or later, and every entry below was removed in 1.32
// or earlier (https://kubernetes.io/docs/reference/using-api/deprecation-guide/), so none is
// servable on any EKS cluster that can be created. The models still ship these versions.
export const REMOVED_APIS = new Map([
  ["extensions/v1beta1", "1.16 (workloads) / 1.22 (Ingress): use apps/v1, networking.k8s.io/v1"],
  ["apps/v1beta1", "1.16: use apps/v1"],
  ["apps/v1beta2", "1.16: use apps/v1"],
  ["admissionregistration.k8s.io/v1beta1", "1.22: use admissionregistration.k8s.io/v1"],
  ["apiextensions.k8s.io/v1beta1", "1.22: use apiextensions.k8s.io/v1"],
  ["apiregistration.k8s.io/v1beta1", "1.22: use apiregistration.k8s.io/v1"],
  ["authentication.k8s.io/v1beta1", "1.22: use authentication.k8s.io/v1"],
  ["authorization.k8s.io/v1beta1", "1.22: use authorization.k8s.io/v1"],
  ["certificates.k8s.io/v1beta1", "1.22: use certificates.k8s.io/v1"],
  ["coordination.k8s.io/v1beta1", "1.22: use coordination.k8s.io/v1"],
  ["networking.k8s.io/v1beta1", "1.22: use networking.k8s.io/v1"],
  ["rbac.authorization.k8s.io/v1beta1", "1.22: use rbac.authorization.k8s.io/v1"],
  ["scheduling.k8s.io/v1beta1", "1.22: use scheduling.k8s.io/v1"],
  ["storage.k8s.io/v1beta1", "1.22 / 1.27: use storage.k8s.io/v1"],
  ["batch/v1beta1", "1.25: use batch/v1"],
  ["discovery.k8s.io/v1beta1", "1.25: use discovery.k8s.io/v1"],
  ["events.k8s.io/v1beta1", "1.25: use events.k8s.io/v1"],
  ["autoscaling/v2beta1", "1.25: use autoscaling/v2"],
  ["autoscaling/v2beta2", "1.26: use autoscaling/v2"],
  ["policy/v1beta1", "1.25 (PodDisruptionBudget, PodSecurityPolicy): use policy/v1"],
  ["node.k8s.io/v1beta1", "1.25: use node.k8s.io/v1"],
  ["flowcontrol.apiserver.k8s.io/v1beta1", "1.26: use flowcontrol.apiserver.k8s.io/v1"],
  ["flowcontrol.apiserver.k8s.io/v1beta2", "1.29: use flowcontrol.apiserver.k8s.io/v1"],
  ["flowcontrol.apiserver.k8s.io/v1beta3", "1.32: use flowcontrol.apiserver.k8s.io/v1"],
]);

// Which npm package holds the models of an API group.
const CRD_PACKAGES = new Map([["monitoring.coreos.com", "@kubernetes-models/prometheus-operator"]]);

const modelCache = new Map();

/** The model class for apiVersion/kind, or null when neither package has it. */
export function findModel(apiVersion, kind) {
  const key = `${apiVersion}/${kind}`;
  if (modelCache.has(key)) return modelCache.get(key);
  let model = null;
  const slash = apiVersion.indexOf("/");
  const group = slash < 0 ? "" : apiVersion.slice(0, slash);
  const pkg = CRD_PACKAGES.get(group) ?? "kubernetes-models";
  // The core group's models live under "v1"; the others under "<group>/<version>".
  const sub = `${pkg}/${apiVersion}`;
  try {
    const mod = require(sub);
    const candidate = mod[kind];
    if (typeof candidate === "function" && candidate.kind === kind && candidate.apiVersion === apiVersion) {
      model = candidate;
    }
  } catch (e) {
    if (e.code !== "MODULE_NOT_FOUND" && e.code !== "ERR_PACKAGE_PATH_NOT_EXPORTED") throw e;
  }
  modelCache.set(key, model);
  return model;
}

/**
 * Runs `validateFn(proxy)` while recording reads. Returns the recorded reads and enumerations,
 * keyed by the raw (unproxied) objects.
 */
function traced(data, validateFn) {
  const reads = new WeakMap();
  const enumerated = new WeakSet();
  const proxies = new WeakMap();
  const wrap = (value) => {
    if (value === null || typeof value !== "object") return value;
    let proxy = proxies.get(value);
    if (proxy) return proxy;
    proxy = new Proxy(value, {
      get(target, key) {
        if (typeof key === "string") {
          let set = reads.get(target);
          if (!set) reads.set(target, (set = new Set()));
          set.add(key);
        }
        return wrap(Reflect.get(target, key));
      },
      has(target, key) {
        if (typeof key === "string") {
          let set = reads.get(target);
          if (!set) reads.set(target, (set = new Set()));
          set.add(key);
        }
        return Reflect.has(target, key);
      },
      ownKeys(target) {
        enumerated.add(target);
        return Reflect.ownKeys(target);
      },
    });
    proxies.set(value, proxy);
    return proxy;
  };
  let error = null;
  try {
    validateFn(wrap(data));
  } catch (e) {
    error = e;
  }
  return { reads, enumerated, error };
}

/** Every key the validator never read, as JSON-pointer-like paths; and free-form objects. */
function undeclared(data, reads, enumerated) {
  const unknown = [];
  const unchecked = [];
  const walk = (value, path) => {
    if (Array.isArray(value)) {
      value.forEach((item, i) => walk(item, `${path}/${i}`));
      return;
    }
    if (value === null || typeof value !== "object") return;
    const keys = Object.keys(value);
    const read = reads.get(value);
    if (enumerated.has(value)) {
      // A map (additionalProperties) or a schema that lists its keys: all seen by the schema.
    } else if (!read || read.size === 0) {
      if (keys.length > 0) unchecked.push(path || "/");
      return;
    } else {
      for (const k of keys) if (!read.has(k)) unknown.push(`${path}/${k}`);
    }
    for (const k of keys) walk(value[k], `${path}/${k}`);
  };
  walk(data, "");
  return { unknown, unchecked };
}

// Kubernetes resource.Quantity, as the API server parses it (k8s.io/apimachinery quantity.go).
const QUANTITY = /^[+-]?(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/;

/** Quantities the schema only types as "string or number": check their syntax too. */
function badQuantities(obj) {
  const bad = [];
  const walk = (value, path, inResources) => {
    if (Array.isArray(value)) return value.forEach((v, i) => walk(v, `${path}/${i}`, false));
    if (value === null || typeof value !== "object") return;
    for (const [k, v] of Object.entries(value)) {
      const p = `${path}/${k}`;
      if (inResources && (typeof v === "string" || typeof v === "number")) {
        if (!QUANTITY.test(String(v))) bad.push(`${p}: "${v}" is not a Kubernetes quantity`);
      } else {
        walk(v, p, (k === "limits" || k === "requests") && path.endsWith("/resources"));
      }
    }
  };
  walk(obj, "", false);
  return bad;
}

/**
 * Validates one object strictly. Returns a list of problem strings (empty when valid).
 */
export function validateObject(obj) {
  if (!obj || typeof obj !== "object" || Array.isArray(obj)) return ["document is not an object"];
  const { apiVersion, kind } = obj;
  if (typeof apiVersion !== "string" || typeof kind !== "string") return ["apiVersion and kind are required strings"];
  if (REMOVED_APIS.has(apiVersion)) {
    return [`${apiVersion} is not served by any supported EKS version (removed in Kubernetes ${REMOVED_APIS.get(apiVersion)})`];
  }
  const model = findModel(apiVersion, kind);
  if (!model) {
    return [`no schema for ${apiVersion} ${kind} in kubernetes-models 4.5.1 or @kubernetes-models/prometheus-operator 4.4.4`];
  }
  const { reads, enumerated, error } = traced(obj, (proxy) => model.prototype.validate.call(proxy));
  const problems = [];
  if (error) {
    if (!error.errors) throw error;
    for (const e of error.errors) {
      problems.push(`${e.instancePath || "/"} ${e.message ?? e.keyword}${e.params?.allowedValues ? ` (${e.params.allowedValues.join(", ")})` : ""}`);
    }
  }
  const { unknown, unchecked } = undeclared(obj, reads, enumerated);
  for (const p of unknown) problems.push(`${p}: unknown field (not in the ${apiVersion} ${kind} schema)`);
  for (const p of unchecked) problems.push(`${p}: free-form object, its fields cannot be checked offline`);
  problems.push(...badQuantities(obj));
  return problems;
}
