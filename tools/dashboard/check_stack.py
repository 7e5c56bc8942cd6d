#!/usr/bin/env python3
"""Cross-check deploy/local's pieces against each other, the way the running stack would
connect them. No Grafana server and no pullable Prometheus/Grafana images exist on these
machines, so the wiring is checked by reference instead:

- Grafana mounts the provisioning folder at /etc/grafana/provisioning; every file dashboard
  provider's `options.path` is a Grafana mount of a folder holding the dashboards; the home
  dashboard path names a mounted file.
- The datasource (one default, type prometheus, with a uid) points at the Compose
  `prometheus` service's container port; every panel and query uses that uid.
- Prometheus mounts its config where --config.file says, every rule file next to it; each
  scrape target is a Compose service on its admin port (MILLIONWS_ADMIN_PORT in compose.yml,
  else the Dockerfile's ENV).
- The load profile's --url names the server service and its WebSocket port.
- Dashboards: uid present and unique, panel ids unique, every panel inside the 24-column grid
  and no two panels overlapping.

  check_stack.py [--local DIR]    (default deploy/local)
Needs docker-compose (it reads `docker-compose config`, which resolves paths like Compose).
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys
from urllib.parse import urlparse

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
problems = []


def problem(msg):
    problems.append(msg)


def mounts(service):
    out = {}
    for v in service.get("volumes") or []:
        if isinstance(v, str):
            source, target = v.split(":")[:2]
        else:
            source, target = v["source"], v["target"]
        out[target] = source
    return out


def flag(args, name, default=None):
    for i, a in enumerate(args):
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
        if a == name and i + 1 < len(args):
            return args[i + 1]
    return default


def image_env(dockerfile):
    env = {}
    text = open(dockerfile).read().replace("\\\n", " ")
    for line in text.splitlines():
        if line.strip().startswith("ENV "):
            env.update(re.findall(r"(\w+)=(\S+)", line))
    return env


def as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else value.split()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--local", default=os.path.join(REPO, "deploy/local"))
    args = parser.parse_args()
    local = os.path.abspath(args.local)
    compose_file = os.path.join(local, "compose.yml")

    rendered = subprocess.run(["docker-compose", "-f", compose_file, "config"], capture_output=True, text=True)
    if rendered.returncode != 0:
        sys.exit(f"FAIL docker-compose config: {rendered.stderr}")
    services = yaml.safe_load(rendered.stdout)["services"]
    for name in ("millionws", "prometheus", "grafana"):
        if name not in services:
            sys.exit(f"FAIL compose.yml has no `{name}` service")
    server, prom, grafana = services["millionws"], services["prometheus"], services["grafana"]

    # --- Grafana provisioning -------------------------------------------------------------
    gmounts = mounts(grafana)
    prov_dir = gmounts.get("/etc/grafana/provisioning")
    if prov_dir is None or not os.path.isdir(prov_dir):
        sys.exit(f"FAIL grafana does not mount a provisioning folder at /etc/grafana/provisioning (mounts: {gmounts})")
    dashboard_files = []
    providers = 0
    for path in sorted(glob.glob(os.path.join(prov_dir, "dashboards", "*.y*ml"))):
        for p in (yaml.safe_load(open(path)) or {}).get("providers") or []:
            providers += 1
            target = (p.get("options") or {}).get("path")
            if p.get("type", "file") != "file":
                continue
            source = gmounts.get(target)
            if source is None:
                problem(f"{os.path.relpath(path)}: provider {p.get('name')!r} reads {target}, which grafana does not mount")
                continue
            found = sorted(glob.glob(os.path.join(source, "*.json")))
            if not found:
                problem(f"{os.path.relpath(path)}: provider path {target} (= {source}) holds no *.json")
            dashboard_files += found
    if providers == 0:
        problem(f"no dashboard provider under {prov_dir}/dashboards")
    home = (grafana.get("environment") or {}).get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    if home:
        hits = [src + home[len(tgt):] for tgt, src in gmounts.items() if home.startswith(tgt + "/")]
        if not hits or not os.path.isfile(hits[0]):
            problem(f"GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH {home} is not a mounted file")

    # --- Datasource -> Prometheus service ---------------------------------------------------
    datasources = []
    for path in sorted(glob.glob(os.path.join(prov_dir, "datasources", "*.y*ml"))):
        datasources += (yaml.safe_load(open(path)) or {}).get("datasources") or []
    proms = [d for d in datasources if d.get("type") == "prometheus"]
    if len(proms) != 1:
        sys.exit(f"FAIL expected one prometheus datasource, found {len(proms)}")
    ds = proms[0]
    uid = ds.get("uid")
    if not uid:
        problem("the prometheus datasource has no uid (dashboards must name it)")
    if sum(1 for d in datasources if d.get("isDefault")) != 1:
        problem("exactly one datasource must be the default")
    url = urlparse(ds.get("url", ""))
    prom_listen = flag(as_list(prom.get("command")), "--web.listen-address", "0.0.0.0:9090")
    if url.hostname not in services or url.hostname != "prometheus" or str(url.port) != prom_listen.rsplit(":", 1)[1]:
        problem(f"datasource url {ds.get('url')} is not the prometheus service's port {prom_listen}")

    # --- Prometheus config, rules and targets ----------------------------------------------
    pmounts = mounts(prom)
    config_path = flag(as_list(prom.get("command")), "--config.file", "/etc/prometheus/prometheus.yml")
    config_src = pmounts.get(config_path)
    if config_src is None or not os.path.isfile(config_src):
        sys.exit(f"FAIL prometheus does not mount its config at {config_path} (mounts: {pmounts})")
    config = yaml.safe_load(open(config_src))
    for rule in config.get("rule_files") or []:
        in_container = rule if rule.startswith("/") else os.path.join(os.path.dirname(config_path), rule)
        src = pmounts.get(in_container)
        if src is None or not os.path.isfile(src):
            problem(f"rule file {rule} resolves to {in_container}, which prometheus does not mount from a file")
    env_defaults = image_env(os.path.join(REPO, "Dockerfile"))
    for job in config.get("scrape_configs") or []:
        for static in job.get("static_configs") or []:
            for target in static.get("targets") or []:
                host, port = target.rsplit(":", 1)
                svc = services.get(host)
                if svc is None:
                    problem(f"scrape job {job['job_name']}: target {target} is not a compose service")
                    continue
                admin = str((svc.get("environment") or {}).get("MILLIONWS_ADMIN_PORT", env_defaults.get("MILLIONWS_ADMIN_PORT")))
                if port != admin:
                    problem(f"scrape job {job['job_name']}: target {target}, but {host}'s admin port is {admin}")

    # --- Load profile -> server -------------------------------------------------------------
    load = services.get("load")
    if load:
        target = urlparse(flag(as_list(load.get("command")), "--url", ""))
        ws_port = str((server.get("environment") or {}).get("MILLIONWS_PORT", env_defaults.get("MILLIONWS_PORT")))
        if target.hostname != "millionws" or str(target.port) != ws_port:
            problem(f"load --url {target.geturl()} is not the millionws service's port {ws_port}")

    # --- Dashboards -------------------------------------------------------------------------
    local_dashboards = sorted(glob.glob(os.path.join(local, "dashboards", "*.json")))
    for missing in sorted(set(local_dashboards) - set(dashboard_files)):
        problem(f"{os.path.relpath(missing)} is not under any provider's path")
    uids = {}
    panel_count = 0
    for path in dashboard_files:
        rel = os.path.relpath(path)
        d = json.load(open(path))
        if "__inputs" in d:
            problem(f"{rel}: export-for-sharing form (__inputs); provisioning needs the classic model")
        if not d.get("uid"):
            problem(f"{rel}: no uid")
        elif d["uid"] in uids:
            problem(f"{rel}: uid {d['uid']} also used by {uids[d['uid']]}")
        uids[d.get("uid")] = rel
        ids, cells = {}, {}
        for p in d.get("panels", []):
            panel_count += p.get("type") != "row"
            pid, g = p.get("id"), p.get("gridPos") or {}
            if pid in ids:
                problem(f"{rel}: panel id {pid} used by {ids[pid]!r} and {p.get('title')!r}")
            ids[pid] = p.get("title")
            x, y, w, h = g.get("x", 0), g.get("y", 0), g.get("w", 0), g.get("h", 0)
            if w <= 0 or h <= 0 or x < 0 or x + w > 24:
                problem(f"{rel}: panel {p.get('title')!r} gridPos {g} is outside the 24-column grid")
            for cx in range(x, x + w):
                for cy in range(y, y + h):
                    if (cx, cy) in cells:
                        problem(f"{rel}: panels {cells[(cx, cy)]!r} and {p.get('title')!r} overlap at x={cx} y={cy}")
                        break
                    cells[(cx, cy)] = p.get("title")
                else:
                    continue
                break
            refs = [p.get("datasource")] + [t.get("datasource") for t in p.get("targets", [])]
            for ref in refs if p.get("type") != "row" else []:
                if not isinstance(ref, dict) or ref.get("uid") != uid:
                    problem(f"{rel}: panel {p.get('title')!r} uses datasource {ref}, not the provisioned uid {uid}")

    if problems:
        for p in problems:
            print(f"FAIL {p}", file=sys.stderr)
        sys.exit(f"FAIL stack cross-check: {len(problems)} problem(s)")
    print(f"ok   stack wiring: grafana provisioning -> {len(dashboard_files)} dashboard(s) ({panel_count} panels), "
          f"datasource {uid} -> {ds['url']}, prometheus config + {len(config.get('rule_files') or [])} rule file(s) mounted, "
          f"scrape targets on the admin port, load -> server")


if __name__ == "__main__":
    main()
