// Structural checks of a Terraform tree, offline: what `terraform validate` would catch for the
// project's own modules, without `terraform init` (which needs the registry and the providers).
//
// Every .tf file is parsed by @cdktf/hcl2json (HashiCorp's HCL parser compiled to WebAssembly;
// syntax errors come back with file:line). Then, per directory (= module):
//   - variables have a type and a description; outputs a description; no variable goes unused;
//   - references resolve: var.X, local.X, module.X (and module.X.OUT for local modules),
//     data.T.N and resources T.N are declared in the same module;
//   - calls to local modules pass only variables the module declares, and every variable it
//     declares without a default;
//   - versions are pinned: registry modules at an exact version, required_version and every
//     provider constraint with an upper bound (root modules: "~> X.Y.Z" or exact), Helm charts
//     at an exact version; every provider a resource uses is in required_providers;
//   - file()/templatefile() paths under path.module/path.root exist; a template's placeholders
//     are all passed; shell templates pass shellcheck (skipped with a message if it is missing);
// and per root module (one with a backend): terraform.tfvars.example sets every required
// variable and only declared ones, node groups satisfy min <= desired <= max; a
// backend.hcl.example parses.
//
// Not checked (needs `terraform init`): arguments of registry modules, provider resource schemas,
// types of values, and anything computed at plan time.

import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { parse } from "@cdktf/hcl2json";

const META_ARGS = new Set(["source", "version", "providers", "depends_on", "count", "for_each"]);
const EXACT_VERSION = /^=?\s*\d+\.\d+\.\d+$/;
const PROVIDER_PREFIXES = ["aws", "helm", "kubernetes", "random", "null", "tls", "time", "cloudinit", "local", "external", "http"];

export function listTfFiles(dir) {
  const out = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.name === ".terraform" || e.name === "node_modules") continue;
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".tf")) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

async function parseFile(file) {
  return parse(file, fs.readFileSync(file, "utf8"));
}

/** Every ${...} expression in a parsed value, with the JSON path where it sits. */
function expressions(value, where, out = []) {
  if (typeof value === "string") {
    for (let i = 0; i < value.length; i++) {
      if (value[i] === "$" && value[i + 1] === "$") { i++; continue; }
      if (value[i] === "$" && value[i + 1] === "{") {
        let depth = 0;
        let j = i + 1;
        let inStr = false;
        for (; j < value.length; j++) {
          const ch = value[j];
          if (inStr) {
            if (ch === "\\") j++;
            else if (ch === '"') inStr = false;
            continue;
          }
          if (ch === '"') inStr = true;
          else if (ch === "{") depth++;
          else if (ch === "}" && --depth === 0) break;
        }
        out.push({ text: value.slice(i + 2, j), where });
        i = j;
      }
    }
  } else if (Array.isArray(value)) {
    value.forEach((v) => expressions(v, where, out));
  } else if (value && typeof value === "object") {
    // Keys too: HCL object keys may be expressions ("kubernetes.io/cluster/${var.name}" = ...).
    for (const [k, v] of Object.entries(value)) {
      expressions(k, where, out);
      expressions(v, where, out);
    }
  }
  return out;
}

/** References in an expression's text. */
function references(text) {
  const refs = [];
  const re = /(?<![\w.\-])(var|local|module|data|path)\.([A-Za-z_][\w-]*)(?:\.([A-Za-z_][\w-]*))?/g;
  for (const m of text.matchAll(re)) refs.push({ kind: m[1], name: m[2], attr: m[3] });
  const res = new RegExp(`(?<![\\w.\\-])((?:${PROVIDER_PREFIXES.join("|")})_[a-z0-9_]+)\\.([A-Za-z_][\\w-]*)`, "g");
  for (const m of text.matchAll(res)) refs.push({ kind: "resource", type: m[1], name: m[2] });
  return refs;
}

/** A module directory: its blocks merged over its files. */
export async function loadModule(dir) {
  const mod = { dir, files: [], variables: {}, outputs: {}, locals: {}, modules: {}, resources: {}, data: {}, terraform: [], providers: {}, parseErrors: [] };
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith(".tf")).sort()) {
    const file = path.join(dir, f);
    let json;
    try {
      json = await parseFile(file);
    } catch (e) {
      mod.parseErrors.push(`${file}: ${e.message}`);
      continue;
    }
    mod.files.push({ file, json });
    for (const [name, [v]] of Object.entries(json.variable ?? {})) mod.variables[name] = { ...v, file };
    for (const [name, [v]] of Object.entries(json.output ?? {})) mod.outputs[name] = { ...v, file };
    for (const block of json.locals ?? []) for (const [name, v] of Object.entries(block)) mod.locals[name] = { value: v, file };
    for (const [name, [v]] of Object.entries(json.module ?? {})) mod.modules[name] = { ...v, file };
    for (const [type, byName] of Object.entries(json.resource ?? {})) for (const [name, [v]] of Object.entries(byName)) mod.resources[`${type}.${name}`] = { type, name, body: v, file };
    for (const [type, byName] of Object.entries(json.data ?? {})) for (const [name, [v]] of Object.entries(byName)) mod.data[`${type}.${name}`] = { body: v, file };
    for (const t of json.terraform ?? []) mod.terraform.push({ ...t, file });
    for (const [name, blocks] of Object.entries(json.provider ?? {})) mod.providers[name] = { blocks, file };
  }
  return mod;
}

function allStrings(value, out = []) {
  if (typeof value === "string") out.push(value);
  else if (Array.isArray(value)) value.forEach((v) => allStrings(v, out));
  else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) allStrings(k, out) && allStrings(v, out);
  return out;
}

const isRoot = (mod) => mod.terraform.some((t) => t.backend);
const hasUpperBound = (c) => /<|~>/.test(c) || EXACT_VERSION.test(c.trim());
const literal = (v) => typeof v === "string" && !v.includes("${");

function checkDeclarations(mod) {
  const p = [];
  for (const [name, v] of Object.entries(mod.variables)) {
    if (!v.type) p.push(`${v.file}: variable "${name}" has no type`);
    if (!v.description || !String(v.description).trim()) p.push(`${v.file}: variable "${name}" has no description`);
  }
  for (const [name, o] of Object.entries(mod.outputs)) {
    if (!o.description || !String(o.description).trim()) p.push(`${o.file}: output "${name}" has no description`);
  }
  return p;
}

async function checkReferences(mod, loadChild) {
  const p = [];
  const used = new Set();
  for (const { file, json } of mod.files) {
    for (const { text } of expressions(json, file)) {
      for (const r of references(text)) {
        if (r.kind === "var") {
          used.add(r.name);
          if (!mod.variables[r.name]) p.push(`${file}: var.${r.name} is not declared in ${mod.dir}`);
        } else if (r.kind === "local") {
          if (!mod.locals[r.name]) p.push(`${file}: local.${r.name} is not defined in ${mod.dir}`);
        } else if (r.kind === "module") {
          const call = mod.modules[r.name];
          if (!call) p.push(`${file}: module.${r.name} is not called in ${mod.dir}`);
          else if (r.attr && isLocalSource(call.source)) {
            const child = await loadChild(path.resolve(mod.dir, call.source));
            if (child && !child.outputs[r.attr]) p.push(`${file}: module.${r.name}.${r.attr}: ${call.source} has no output "${r.attr}"`);
          }
        } else if (r.kind === "data") {
          if (!r.attr || !mod.data[`${r.name}.${r.attr}`]) p.push(`${file}: data.${r.name}.${r.attr} is not declared in ${mod.dir}`);
        } else if (r.kind === "resource") {
          if (!mod.resources[`${r.type}.${r.name}`]) p.push(`${file}: ${r.type}.${r.name} is not declared in ${mod.dir}`);
        } else if (r.kind === "path" && !["module", "root", "cwd"].includes(r.name)) {
          p.push(`${file}: path.${r.name} does not exist (path.module, path.root, path.cwd)`);
        }
      }
    }
  }
  for (const [name, v] of Object.entries(mod.variables)) {
    if (!used.has(name)) p.push(`${v.file}: variable "${name}" is declared but never used`);
  }
  return p;
}

const isLocalSource = (s) => typeof s === "string" && (s.startsWith("./") || s.startsWith("../"));

async function checkModuleCalls(mod, loadChild) {
  const p = [];
  for (const [name, call] of Object.entries(mod.modules)) {
    const where = `${call.file}: module "${name}"`;
    if (!literal(call.source)) {
      p.push(`${where}: source must be a literal`);
      continue;
    }
    if (isLocalSource(call.source)) {
      const childDir = path.resolve(mod.dir, call.source);
      if (!fs.existsSync(childDir) || listTfFiles(childDir).length === 0) {
        p.push(`${where}: source ${call.source} has no .tf files`);
        continue;
      }
      if (call.version !== undefined) p.push(`${where}: a local module takes no version`);
      const child = await loadChild(childDir);
      for (const arg of Object.keys(call)) {
        if (META_ARGS.has(arg) || arg === "file") continue;
        if (!child.variables[arg]) p.push(`${where}: argument "${arg}" is not a variable of ${call.source} (it has: ${Object.keys(child.variables).join(", ")})`);
      }
      for (const [v, decl] of Object.entries(child.variables)) {
        if (!("default" in decl) && !(v in call)) p.push(`${where}: required variable "${v}" of ${call.source} is not set`);
      }
    } else {
      if (call.version === undefined) p.push(`${where}: registry module ${call.source} has no version`);
      else if (!EXACT_VERSION.test(String(call.version))) p.push(`${where}: version "${call.version}" of ${call.source} is not an exact version (X.Y.Z)`);
    }
  }
  return p;
}

function checkVersions(mod) {
  const p = [];
  const root = isRoot(mod);
  const rv = mod.terraform.map((t) => t.required_version).find(Boolean);
  if (!rv) p.push(`${mod.dir}: no terraform { required_version }`);
  else if (!hasUpperBound(rv)) p.push(`${mod.dir}: required_version "${rv}" has no upper bound`);
  const required = {};
  for (const t of mod.terraform) for (const block of t.required_providers ?? []) Object.assign(required, block);
  for (const [name, spec] of Object.entries(required)) {
    if (!spec.source) p.push(`${mod.dir}: provider "${name}" has no source`);
    if (!spec.version) p.push(`${mod.dir}: provider "${name}" has no version constraint`);
    else if (root && !/^~>\s*\d+\.\d+\.\d+$/.test(spec.version) && !EXACT_VERSION.test(spec.version)) {
      p.push(`${mod.dir}: root module pins provider "${name}" loosely ("${spec.version}"); use "~> X.Y.Z" or an exact version`);
    } else if (!hasUpperBound(spec.version)) p.push(`${mod.dir}: provider "${name}" constraint "${spec.version}" has no upper bound`);
  }
  const usedProviders = new Set([
    ...Object.values(mod.resources).map((r) => r.type.split("_")[0]),
    ...Object.keys(mod.data).map((k) => k.split("_")[0]),
    ...Object.keys(mod.providers),
  ]);
  for (const prov of usedProviders) if (!required[prov]) p.push(`${mod.dir}: provider "${prov}" is used but not in required_providers`);
  for (const r of Object.values(mod.resources).filter((x) => x.type === "helm_release")) {
    const v = r.body.version;
    const where = `${r.file}: helm_release.${r.name}`;
    if (v === undefined) p.push(`${where}: no chart version`);
    else if (literal(v)) {
      if (!EXACT_VERSION.test(v)) p.push(`${where}: chart version "${v}" is not exact`);
    } else {
      const m = /^\$\{var\.([\w-]+)(?:\.([\w-]+))?\}$/.exec(v);
      const decl = m && mod.variables[m[1]];
      const dflt = decl && (m[2] ? decl.default?.[m[2]] : decl.default);
      if (!dflt || !EXACT_VERSION.test(String(dflt))) p.push(`${where}: chart version ${v} does not resolve to an exact default version`);
    }
  }
  return p;
}

function checkFiles(mod, rootDir) {
  const p = [];
  for (const { file, json } of mod.files) {
    // Paths built from path.module / path.root and a literal rest, anywhere in a string.
    for (const text of allStrings(json)) {
      for (const m of text.matchAll(/\$\{path\.(module|root)\}([^"$]*)/g)) {
        const base = m[1] === "module" ? mod.dir : rootDir;
        if (!base) continue;
        const target = path.resolve(base, `.${m[2]}`);
        if (!fs.existsSync(target)) p.push(`${file}: ${m[0]} -> ${path.relative(process.cwd(), target)} does not exist`);
      }
    }
    for (const { text } of expressions(json, file)) {
      for (const m of text.matchAll(/templatefile\(\s*"\$\{path\.module\}([^"]+)"\s*,/g)) {
        const tpl = path.resolve(mod.dir, `.${m[1]}`);
        if (!fs.existsSync(tpl)) continue;
        const body = fs.readFileSync(tpl, "utf8");
        const placeholders = new Set([...body.matchAll(/(?<!\$)\$\{\s*([A-Za-z_]\w*)\s*\}/g)].map((x) => x[1]));
        const call = text.slice(m.index);
        for (const ph of placeholders) {
          if (!new RegExp(`(^|[\\s{,])${ph}\\s*=`).test(call)) p.push(`${file}: template ${path.relative(process.cwd(), tpl)} uses \${${ph}}, which the templatefile() call does not pass`);
        }
        p.push(...shellcheckTemplate(tpl, body, placeholders));
      }
    }
  }
  return p;
}

const shellcheckNotes = new Set();
function shellcheckTemplate(tpl, body, placeholders) {
  if (!/^#!.*\b(ba)?sh\b/.test(body)) return [];
  try {
    execFileSync("sh", ["-c", "command -v shellcheck"], { stdio: "ignore" });
  } catch {
    if (!shellcheckNotes.has(tpl)) console.log(`skip shellcheck of ${tpl}: shellcheck is not installed`);
    shellcheckNotes.add(tpl);
    return [];
  }
  let rendered = body.replace(/\$\$\{/g, "${");
  for (const ph of placeholders) rendered = rendered.replace(new RegExp(`(?<!\\$)\\$\\{\\s*${ph}\\s*\\}`, "g"), "1");
  try {
    execFileSync("shellcheck", ["-s", "bash", "-"], { input: rendered, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
    return [];
  } catch (e) {
    return [`${tpl}: shellcheck on the rendered template:\n${e.stdout || e.message}`];
  }
}

async function checkRoot(mod) {
  const p = [];
  const example = path.join(mod.dir, "terraform.tfvars.example");
  if (!fs.existsSync(example)) p.push(`${mod.dir}: root module without terraform.tfvars.example`);
  else {
    let values;
    try {
      values = await parse(example, fs.readFileSync(example, "utf8"));
    } catch (e) {
      p.push(`${example}: ${e.message}`);
    }
    if (values) {
      for (const k of Object.keys(values)) if (!mod.variables[k]) p.push(`${example}: "${k}" is not a variable of ${mod.dir}`);
      for (const [k, v] of Object.entries(mod.variables)) if (!("default" in v) && !(k in values)) p.push(`${example}: required variable "${k}" is not set`);
      for (const [k, v] of Object.entries(values)) {
        if (v && typeof v === "object" && "min_size" in v) {
          if (!(v.min_size <= v.desired_size && v.desired_size <= v.max_size)) p.push(`${example}: ${k}: min_size ${v.min_size} <= desired_size ${v.desired_size} <= max_size ${v.max_size} does not hold`);
          for (const t of v.instance_types ?? []) if (/^t\d/.test(t)) p.push(`${example}: ${k}: ${t} is burstable`);
        }
      }
    }
  }
  const backend = path.join(mod.dir, "backend.hcl.example");
  if (!fs.existsSync(backend)) p.push(`${mod.dir}: root module without backend.hcl.example`);
  else {
    try {
      const b = await parse(backend, fs.readFileSync(backend, "utf8"));
      for (const k of ["bucket", "key", "region"]) if (!(k in b)) p.push(`${backend}: no ${k}`);
    } catch (e) {
      p.push(`${backend}: ${e.message}`);
    }
  }
  return p;
}

/**
 * Checks every module directory under `tree`. Returns { problems, modules } where modules maps
 * directory -> loaded module (for further checks).
 */
export async function checkTerraformTree(tree) {
  const problems = [];
  const cache = new Map();
  const load = async (dir) => {
    const key = path.relative(process.cwd(), path.resolve(dir)) || ".";
    if (!cache.has(key)) cache.set(key, await loadModule(key));
    return cache.get(key);
  };
  const dirs = [...new Set(listTfFiles(tree).map((f) => path.dirname(f)))];
  if (dirs.length === 0) problems.push(`${tree}: no .tf files`);
  for (const dir of dirs) {
    const mod = await load(dir);
    problems.push(...mod.parseErrors);
    if (mod.parseErrors.length) continue;
    problems.push(...checkDeclarations(mod));
    problems.push(...(await checkReferences(mod, load)));
    problems.push(...(await checkModuleCalls(mod, load)));
    problems.push(...checkVersions(mod));
    problems.push(...checkFiles(mod, isRoot(mod) ? mod.dir : null));
    if (isRoot(mod)) problems.push(...(await checkRoot(mod)));
  }
  return { problems, modules: cache, dirs };
}
