// Self-test of terraform-check.mjs: the real infra/terraform passes, and each check fails on a
// copy broken in one place. Run: node --test tools/k8s-check/test/terraform.test.mjs
// (part of `just terraform-check`).
//
// Committed fixtures: test/fixtures/tf-good (a root calling a local module) and
// test/fixtures/tf-unknown-arg (the same with an argument the module does not declare). Other
// cases edit a temporary copy of tf-good or of infra/terraform.

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { runTerraformCheck } from "../terraform-check.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../../..");
const cli = path.join(here, "../terraform-check.mjs");
const fixture = (name) => path.join(here, "fixtures", name);
const infra = path.join(root, "infra/terraform");
const deploy = path.join(root, "deploy/millionws");

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "terraform-check-test-"));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

function runCli(args) {
  try {
    return { code: 0, out: execFileSync(process.execPath, [cli, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }) };
  } catch (e) {
    return { code: e.status, out: `${e.stdout}${e.stderr}` };
  }
}

let copies = 0;
/** A copy of `src` with `edit(file, text) -> text` applied to one file. */
// A copy of infra/terraform sits at <copy>/infra/terraform beside a link <copy>/deploy to the
// real deploy/, so that the cluster's path to the prometheus-adapter values still resolves.
function brokenCopy(src, file, edit) {
  const base = path.join(scratch, `copy-${++copies}`);
  let dst = base;
  if (src === infra) {
    dst = path.join(base, "infra/terraform");
    fs.mkdirSync(path.dirname(dst), { recursive: true });
    fs.symlinkSync(path.join(root, "deploy"), path.join(base, "deploy"));
  }
  fs.cpSync(src, dst, { recursive: true });
  const f = path.join(dst, file);
  const before = fs.existsSync(f) ? fs.readFileSync(f, "utf8") : "";
  const afterText = edit(before);
  assert.notEqual(afterText, before, `the edit of ${file} changed nothing`);
  fs.writeFileSync(f, afterText);
  return dst;
}
const replaceOnce = (from, to) => (text) => {
  assert.ok(text.includes(from), `"${from}" not found`);
  return text.replace(from, to);
};

async function problemsOf(tree, deployDir) {
  return (await runTerraformCheck(tree, deployDir)).problems;
}
const expectProblem = (problems, pattern) =>
  assert.ok(problems.some((p) => pattern.test(p)), `expected a problem matching ${pattern}, got:\n${problems.join("\n") || "(none)"}`);

// --- committed fixtures through the CLI -------------------------------------------------------

test("fixture: a valid tree passes (exit 0)", () => {
  const r = runCli([fixture("tf-good")]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /^ok .*2 module directories/m);
});

test("fixture: an unknown module argument fails (force_destory)", () => {
  const r = runCli([fixture("tf-unknown-arg")]);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /module "bucket": argument "force_destory" is not a variable of \.\.\/child/);
});

// --- tf-good broken one way at a time ---------------------------------------------------------

test("required variable of a local module not set", async () => {
  const t = brokenCopy(fixture("tf-good"), "root/main.tf", replaceOnce("  name = var.name\n", ""));
  const p = await problemsOf(t);
  expectProblem(p, /required variable "name" of \.\.\/child is not set/);
  expectProblem(p, /variable "name" is declared but never used/);
});

test("reference to an undeclared variable", async () => {
  const t = brokenCopy(fixture("tf-good"), "root/main.tf", replaceOnce("name = var.name", "name = var.nmae"));
  expectProblem(await problemsOf(t), /var\.nmae is not declared/);
});

test("output a local module does not have", async () => {
  const t = brokenCopy(fixture("tf-good"), "root/main.tf", replaceOnce("module.bucket.arn", "module.bucket.id"));
  expectProblem(await problemsOf(t), /module\.bucket\.id: \.\.\/child has no output "id"/);
});

test("resource that is not declared", async () => {
  const t = brokenCopy(fixture("tf-good"), "child/outputs.tf", replaceOnce("aws_s3_bucket.this.arn", "aws_s3_bucket.that.arn"));
  expectProblem(await problemsOf(t), /aws_s3_bucket\.that is not declared/);
});

test("syntax error reported with file and line", async () => {
  const t = brokenCopy(fixture("tf-good"), "child/main.tf", replaceOnce("force_destroy = var.force_destroy\n}", "force_destroy = var.force_destroy\n"));
  expectProblem(await problemsOf(t), /child\/main\.tf:\d+/);
});

test("registry module without an exact version", async () => {
  const t = brokenCopy(fixture("tf-good"), "root/main.tf", (s) => `${s}\nmodule "vpc" {\n  source  = "terraform-aws-modules/vpc/aws"\n  version = "~> 5.0"\n}\n`);
  expectProblem(await problemsOf(t), /version "~> 5\.0" of terraform-aws-modules\/vpc\/aws is not an exact version/);
});

test("root provider constraint without an upper bound", async () => {
  const t = brokenCopy(fixture("tf-good"), "root/versions.tf", replaceOnce('version = "~> 5.100.0"', 'version = ">= 5.0"'));
  expectProblem(await problemsOf(t), /root module pins provider "aws" loosely/);
});

test("variable without a description", async () => {
  const t = brokenCopy(fixture("tf-good"), "child/variables.tf", replaceOnce('  description = "Delete the bucket even when it holds objects."\n', ""));
  expectProblem(await problemsOf(t), /variable "force_destroy" has no description/);
});

test("tfvars example that misses a required variable and sets an undeclared one", async () => {
  const t = brokenCopy(fixture("tf-good"), "root/terraform.tfvars.example", () => 'nmae = "example-bucket"\n');
  const p = await problemsOf(t);
  expectProblem(p, /required variable "name" is not set/);
  expectProblem(p, /"nmae" is not a variable of/);
});

test("resource of a provider missing from required_providers", async () => {
  const t = brokenCopy(fixture("tf-good"), "child/main.tf", (s) => `${s}\nresource "random_id" "suffix" {\n  byte_length = 4\n}\n`);
  expectProblem(await problemsOf(t), /provider "random" is used but not in required_providers/);
});

// --- infra/terraform as shipped, then broken --------------------------------------------------

test("infra/terraform passes, consistent with deploy/millionws", async () => {
  assert.deepEqual(await problemsOf(infra, deploy), []);
});

test("infra: unknown argument to the eks module (server_node)", async () => {
  const t = brokenCopy(infra, "clusters/millionws-prod/main.tf", replaceOnce("  server_nodes                 = var.server_nodes", "  server_node                  = var.server_nodes"));
  const p = await problemsOf(t);
  expectProblem(p, /module "eks": argument "server_node" is not a variable of \.\.\/\.\.\/modules\/eks/);
  expectProblem(p, /required variable "server_nodes" of \.\.\/\.\.\/modules\/eks is not set/);
});

test("infra: Helm chart version that is not exact", async () => {
  const t = brokenCopy(infra, "modules/platform/variables.tf", replaceOnce('metrics_server               = "3.13.0"', 'metrics_server               = "~> 3.13"'));
  expectProblem(await problemsOf(t), /helm_release\.metrics_server: chart version \$\{var\.chart_versions\.metrics_server\} does not resolve to an exact default/);
});

test("infra: template placeholder the templatefile() call does not pass", async () => {
  const t = brokenCopy(infra, "modules/eks/templates/node-tuning.sh.tftpl", replaceOnce("fs.nr_open = ${nr_open}", "fs.nr_open = ${nr_open_max}"));
  expectProblem(await problemsOf(t), /uses \$\{nr_open_max\}, which the templatefile\(\) call does not pass/);
});

test("infra: file() path that does not exist", async () => {
  const t = brokenCopy(infra, "clusters/millionws-prod/main.tf", replaceOnce("prometheus-adapter/values.yaml", "prometheus-adapter/value.yaml"));
  expectProblem(await problemsOf(t), /prometheus-adapter\/value\.yaml does not exist/);
});

test("infra: node group sizes with min > desired in the tfvars example", async () => {
  const t = brokenCopy(infra, "clusters/millionws-prod/terraform.tfvars.example", replaceOnce("  min_size       = 2\n  desired_size   = 3", "  min_size       = 4\n  desired_size   = 3"));
  expectProblem(await problemsOf(t), /system_nodes: min_size 4 <= desired_size 3 <= max_size 4 does not hold/);
});

test("infra: server node groups too small for the HPA's maxReplicas", async () => {
  const t = brokenCopy(infra, "clusters/millionws-prod/terraform.tfvars.example", replaceOnce("  max_size       = 9\n", "  max_size       = 6\n"));
  expectProblem(await problemsOf(t, deploy), /3 zones x 6 c7i\.2xlarge x 3 pods = 54 < HPA maxReplicas 60 \+ surge 15/);
});

test("infra: server taint the Deployment does not tolerate", async () => {
  const t = brokenCopy(infra, "modules/eks/main.tf", replaceOnce('value = "server", effect = "NO_SCHEDULE"', 'value = "servers", effect = "NO_SCHEDULE"'));
  const p = await problemsOf(t, deploy);
  expectProblem(p, /toleration millionws\.io\/pool=server:NoSchedule matches no taint/);
  expectProblem(p, /does not tolerate the server nodes' taint millionws\.io\/pool=servers/);
});

test("infra: pod sysctl the server kubelet does not allow", async () => {
  const t = brokenCopy(infra, "modules/eks/variables.tf", replaceOnce('default     = ["net.core.somaxconn"]', "default     = []"));
  expectProblem(await problemsOf(t, deploy), /sysctl net\.core\.somaxconn is not in server_allowed_unsafe_sysctls/);
});
