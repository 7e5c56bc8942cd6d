// Renders a kustomization offline and parses the result.
//
// `kubectl kustomize DIR` (kubectl's built-in kustomize; Debian 12's kubernetes-client 1.20 has
// kustomize v2, newer kubectl v5) or, where kubectl is missing, a standalone `kustomize build
// DIR`. KUBECONFIG=/dev/null always: rendering needs no cluster, and without it kubectl would
// look for an API server on localhost:8080, a port MillionWS's own tests use.

import { execFileSync } from "node:child_process";
import yaml from "js-yaml";

function onPath(cmd) {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** The command that renders, as [file, args-before-dir], or throws with how to get one. */
export function renderer() {
  if (process.env.KUSTOMIZE_RENDERER === "kustomize" || (!onPath("kubectl") && onPath("kustomize"))) {
    return ["kustomize", ["build"]];
  }
  if (onPath("kubectl")) return ["kubectl", ["kustomize"]];
  throw new Error("neither kubectl nor kustomize is installed (Debian: apt-get install kubernetes-client)");
}

/** Renders DIR; returns the YAML text. Throws with kustomize's own message on failure. */
export function renderText(dir) {
  const [cmd, args] = renderer();
  try {
    return execFileSync(cmd, [...args, dir], {
      encoding: "utf8",
      env: { ...process.env, KUBECONFIG: "/dev/null" },
      stdio: ["ignore", "pipe", "pipe"],
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (e) {
    const msg = (e.stderr || e.message || "").toString().trim();
    throw new Error(`${cmd} ${args.join(" ")} ${dir} failed: ${msg}`);
  }
}

/** Parses a multi-document YAML stream into objects (empty documents dropped). */
export function parseStream(text, source) {
  const docs = [];
  yaml.loadAll(text, (doc) => {
    if (doc !== null && doc !== undefined) docs.push(doc);
  }, { filename: source });
  return docs;
}

export function render(dir) {
  return parseStream(renderText(dir), dir);
}
