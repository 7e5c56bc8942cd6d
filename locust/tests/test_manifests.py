"""locust/'s Kubernetes objects as `kubectl kustomize locust` renders them: what the schemas
(tools/k8s-check) cannot know. The files the pods run are the files the checks run; names that
must agree do (Service, port, ConfigMaps, workers awaited vs. workers deployed); the workers are
sized for their users from the measured cost per held user (README.md).
"""

import os
import subprocess

import pytest
import yaml

import harness

# Measured (README.md, "What a held user costs"): 14.1 KB of worker memory per held user
# (`locust/measure.py --users 18000`), plus the kernel's ~4.2 KB per socket (BENCHMARKS.md),
# 43 MB for Locust itself; 18,000 users per worker is the README's figure.
BYTES_PER_USER = 14_116 + 4_183
WORKER_BASE_BYTES = 43 * 2**20
USERS_PER_WORKER = 18_000


def render(directory):
    r = subprocess.run(["kubectl", "kustomize", str(directory)], capture_output=True, text=True,
                       env={**os.environ, "KUBECONFIG": "/dev/null"}, timeout=60)
    assert r.returncode == 0, r.stderr
    return [o for o in yaml.safe_load_all(r.stdout) if o]


def quantity_bytes(text):
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return int(text[:-len(suffix)]) * factor
    return int(text)


@pytest.fixture(scope="module")
def objects():
    return render(harness.LOCUST_DIR)


def one(objects, kind, name_prefix):
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"].startswith(
        name_prefix)]
    assert len(found) == 1, (kind, name_prefix, [o["metadata"]["name"] for o in objects])
    return found[0]


def env_of(objects, container):
    """The container's environment as the kubelet builds it: envFrom ConfigMaps, then env."""
    env = {}
    for source in container.get("envFrom", []):
        ref = source["configMapRef"]["name"]
        cm = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == ref]
        assert len(cm) == 1, "envFrom %s names no rendered ConfigMap" % ref
        env.update(cm[0]["data"])
    env.update({e["name"]: e["value"] for e in container.get("env", []) if "value" in e})
    return env


def test_the_pods_run_the_checked_files(objects):
    cm = one(objects, "ConfigMap", "locustfile-")
    for name in ("locustfile.py", "master.sh"):
        assert cm["data"][name] == (harness.LOCUST_DIR / name).read_text(), name
    for kind, name in (("Job", "locust-master"), ("Deployment", "locust-worker")):
        pod = one(objects, kind, name)["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        (container,) = pod["containers"]
        mount = [m for m in container["volumeMounts"] if m["mountPath"] == "/locust"]
        assert mount and volumes[mount[0]["name"]]["configMap"]["name"] == cm["metadata"]["name"]
    master = one(objects, "Job", "locust-master")["spec"]["template"]["spec"]["containers"][0]
    assert master["command"] == ["/bin/sh", "/locust/master.sh"]
    assert env_of(objects, master)["LOCUSTFILE"] == "/locust/locustfile.py"
    worker = one(objects, "Deployment", "locust-worker")["spec"]["template"]["spec"]
    assert worker["containers"][0]["args"] == ["-f", "/locust/locustfile.py", "--worker"]


def test_workers_find_the_master_and_the_master_waits_for_all_of_them(objects):
    service = one(objects, "Service", "locust-master")
    job = one(objects, "Job", "locust-master")
    deployment = one(objects, "Deployment", "locust-worker")
    master = job["spec"]["template"]["spec"]["containers"][0]
    worker = deployment["spec"]["template"]["spec"]["containers"][0]
    worker_env = env_of(objects, worker)
    (port,) = service["spec"]["ports"]
    assert worker_env["LOCUST_MASTER_NODE_HOST"] == service["metadata"]["name"]
    assert int(worker_env["LOCUST_MASTER_NODE_PORT"]) == port["port"] == 5557
    declared = {p["name"]: p["containerPort"] for p in master["ports"]}
    assert declared[port["targetPort"]] == 5557  # Locust's default --master-bind-port
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in service["spec"]["selector"].items())
    master_env = env_of(objects, master)
    assert int(master_env["LOCUST_EXPECT_WORKERS"]) == deployment["spec"]["replicas"]
    # A worker refuses --run-time, --headless and the like: only the master gets run.env.
    assert not any(k in worker_env for k in ("LOCUST_RUN_TIME", "LOCUST_USERS",
                                             "LOCUST_HEADLESS", "LOCUST_EXPECT_WORKERS"))
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_workers_are_sized_for_their_users(objects):
    deployment = one(objects, "Deployment", "locust-worker")
    master = one(objects, "Job", "locust-master")["spec"]["template"]["spec"]["containers"][0]
    env = env_of(objects, master)
    workers = deployment["spec"]["replicas"]
    users_per_worker = -(-int(env["LOCUST_USERS"]) // workers)
    assert users_per_worker <= USERS_PER_WORKER, (env["LOCUST_USERS"], workers)
    pod = deployment["spec"]["template"]["spec"]
    limit = quantity_bytes(pod["containers"][0]["resources"]["limits"]["memory"])
    assert limit >= WORKER_BASE_BYTES + users_per_worker * BYTES_PER_USER, limit
    # One local port per connection from the pod's one address: half the range at most.
    sysctls = {s["name"]: s["value"] for s in pod["securityContext"]["sysctls"]}
    low, high = map(int, sysctls["net.ipv4.ip_local_port_range"].split())
    assert users_per_worker * 2 <= high - low + 1


def test_the_target_is_a_url_the_locustfile_takes(objects):
    users = one(objects, "ConfigMap", "locust-users-")["data"]
    assert users["LOCUST_HOST"].split("://")[0] in ("http", "https", "ws", "wss")
    assert users["MWS_MESSAGE_TYPE"] in ("binary", "text")
    for key in ("MWS_CONNECT_TIMEOUT", "MWS_PING_INTERVAL", "MWS_MESSAGE_BYTES", "MWS_ECHO_RATE",
                "MWS_ECHO_TIMEOUT", "MWS_HOLD_WEIGHT", "MWS_ECHO_WEIGHT"):
        assert float(users[key]) >= 0, key
