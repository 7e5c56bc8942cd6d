#!/usr/bin/env python3
"""Type-check Grafana dashboard JSON files against @grafana/schema with TypeScript.

  check_types.py [--datasources DIR] DASHBOARD.json...

Each dashboard is embedded verbatim as an object literal of type `MillionwsDashboard`
(dashboard-types.ts) in a generated .ts file, so TypeScript's excess-property checks apply,
and `tsc --noEmit --strict` runs over them. The JSON's first line shares the .ts file's first
line, so tsc's line numbers are the JSON's; errors are reported as DASHBOARD.json:LINE:COL.
The datasource uid a panel may name is read from the provisioned datasource files (a
dashboard naming another uid fails), so the dashboard and provisioning cannot drift apart.
Needs `npm ci` in this folder (tools/setup.sh runs it).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def provisioned_uids(directory):
    uids = []
    for name in sorted(os.listdir(directory)):
        if name.endswith((".yml", ".yaml")):
            with open(os.path.join(directory, name)) as f:
                doc = yaml.safe_load(f) or {}
            for ds in doc.get("datasources") or []:
                if ds.get("type") == "prometheus" and ds.get("uid"):
                    uids.append(ds["uid"])
    return uids


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasources", default=os.path.join(REPO, "deploy/local/provisioning/datasources"))
    parser.add_argument("dashboards", nargs="+")
    args = parser.parse_args()

    tsc = os.path.join(HERE, "node_modules/.bin/tsc")
    if not os.path.exists(tsc):
        sys.exit(f"{tsc} is missing: run `npm ci --prefix {os.path.relpath(HERE)}` (tools/setup.sh does)")
    uids = provisioned_uids(args.datasources)
    if not uids:
        sys.exit(f"no prometheus datasource with a uid in {args.datasources}")

    with tempfile.TemporaryDirectory(prefix="dashboard-types-") as work:
        os.symlink(os.path.join(HERE, "node_modules"), os.path.join(work, "node_modules"))
        shutil.copy(os.path.join(HERE, "dashboard-types.ts"), work)
        with open(os.path.join(work, "datasource-uid.ts"), "w") as f:
            f.write("export type DatasourceUid = " + " | ".join(json.dumps(u) for u in uids) + ";\n")
        files, origin = ["dashboard-types.ts"], {}
        for i, path in enumerate(args.dashboards):
            with open(path) as f:
                text = f.read()
            json.loads(text)  # a JSON syntax error is reported as such, not as a TS error
            name = f"dashboard{i}.ts"
            origin[name] = path
            with open(os.path.join(work, name), "w") as f:
                # One line of prefix, glued to the JSON's first line: line numbers coincide.
                f.write("import type { MillionwsDashboard } from './dashboard-types';"
                        " export const dashboard: MillionwsDashboard = " + text.rstrip() + ";\n")
            files.append(name)
        with open(os.path.join(work, "tsconfig.json"), "w") as f:
            json.dump({"compilerOptions": {"strict": True, "noEmit": True, "target": "es2022",
                                           "module": "esnext", "moduleResolution": "bundler",
                                           "skipLibCheck": True, "types": []},
                       "files": files}, f)
        result = subprocess.run([tsc, "-p", os.path.join(work, "tsconfig.json")],
                                cwd=work, capture_output=True, text=True)
        out = result.stdout + result.stderr

    def where(m):
        return f"{origin.get(m.group(1), m.group(1))}:{m.group(2)}:{m.group(3)}"

    out = re.sub(r"(dashboard\d+\.ts)[(:](\d+)[,:](\d+)\)?", where, out)
    if result.returncode != 0:
        sys.stdout.write(out)
        sys.exit(f"FAIL dashboard types ({len(args.dashboards)} file(s), datasource uid {', '.join(uids)})")
    print(f"ok   dashboard types: {', '.join(args.dashboards)} satisfy @grafana/schema Dashboard "
          f"(tsc --strict; panels and queries name datasource uid {', '.join(uids)})")


if __name__ == "__main__":
    main()
