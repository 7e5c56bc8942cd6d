#!/usr/bin/env node
// Offline structural check of a Terraform tree (no registry, no providers, no credentials).
//
// Usage:
//   node tools/k8s-check/terraform-check.mjs [--deploy <kustomize-dir>] <terraform-dir>
//
// Parses every .tf file with @cdktf/hcl2json (file:line on syntax errors) and checks each module
// directory (lib/terraform.mjs): typed and described variables, described outputs, no unused
// variables; references (var., local., module.X.OUT of local modules, data., resources) resolve;
// local module calls pass only declared variables and every required one; registry modules at
// exact versions, required_version and provider constraints bounded (root: "~> X.Y.Z"), Helm
// charts at exact versions; file()/templatefile() paths exist, template placeholders are passed,
// shell templates pass shellcheck; root modules (with a backend) have a terraform.tfvars.example
// that sets every required variable and only declared ones, with node groups min <= desired <=
// max, and a backend.hcl.example.
// With --deploy: the server Deployment rendered from that kustomization must fit the EKS module
// (nodeSelector/tolerations = server node group labels/taints, unsafe sysctls allowed by their
// kubelet) and the server node groups must hold the HPA's maxReplicas + surge (lib/consistency.mjs).
//
// `terraform fmt -check` is not run here (deploy/kubernetes.just runs it where terraform exists).
// Exit status: 0 all good, 1 problems found, 2 usage error.

import path from "node:path";
import { pathToFileURL } from "node:url";
import { checkTerraformTree } from "./lib/terraform.mjs";
import { consistencyCheck } from "./lib/consistency.mjs";
import { render } from "./lib/render.mjs";

export async function runTerraformCheck(tree, deployDir) {
  const { problems, modules, dirs } = await checkTerraformTree(tree);
  if (deployDir && problems.length === 0) problems.push(...(await consistencyCheck(render(deployDir), modules, tree)));
  return { problems, dirs };
}

async function main() {
  const args = process.argv.slice(2);
  let deployDir = null;
  const trees = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--deploy") deployDir = args[++i];
    else if (args[i].startsWith("-")) {
      console.error(`terraform-check: unknown option ${args[i]}`);
      return 2;
    } else trees.push(args[i]);
  }
  if (trees.length !== 1) {
    console.error("usage: node tools/k8s-check/terraform-check.mjs [--deploy <kustomize-dir>] <terraform-dir>");
    return 2;
  }
  const { problems, dirs } = await runTerraformCheck(trees[0], deployDir);
  if (problems.length) {
    for (const p of problems) console.error(`FAIL ${p}`);
    return 1;
  }
  console.log(`ok   ${trees[0]}: ${dirs.length} module directories (${dirs.map((d) => path.relative(trees[0], d)).join(", ")})${deployDir ? `; consistent with ${deployDir}` : ""}`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = await main();
}
