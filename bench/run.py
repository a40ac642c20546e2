#!/usr/bin/env python3
"""The benchmarks of issue 7, driven by scripts/bench (which builds the release binaries and the venv first).

    python bench/run.py --bin-dir TARGET/release [--quick] [--only 1,2,5] [--runs N] [--output FILE]

Items (see BENCHMARKS.md for what each number means and how to reproduce it by hand):
  1  mapping throughput: `port-aws-sync map` vs the Python `jq` package used the way Ocean does vs the jq CLI
  2  one-time sync of a seeded moto estate into the strict fake Port (and --dry-run)
  3  Lambda binaries: start-up to the first runtime-API request, binary sizes, worker peak RSS on one batch
  4  fan-out at organization scale: plan (and enqueue, once the `fanout` binary exists)
  5  under throttling: fake Port 429s with Retry-After + a proxy throttling one account's EC2 calls
  6  Port requests with the sync state: fresh sync, unchanged resync, after changing 1% of the resources
  7  a 1,000-account x 17-region estate with every kind mapped: fan-out, and the units of sample accounts
  8  live events: our part of the latency (SQS receipt to Port's answer) with a warm worker
  9  a large EC2 Describe page other than instances: 1,000 security groups in one region (CLI peak RSS, F4)

Every measurement runs several times; the table shows median (min-max). Results go to a JSON file.
"""

from __future__ import annotations

import argparse
import atexit
import hashlib
import json
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from lambda_runtime import RuntimeApi, lambda_env  # noqa: E402

PY = sys.executable
MAPPING = ROOT / "src/mapping/default_port_app_config.yml"
REGIONS3 = ["us-east-1", "eu-west-1", "us-west-2"]
ROLE = "PortAwsSyncReadRole"
MIB = 1024 * 1024
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Sizes: (full, quick).
SIZES = {
    "map_objects": (100_000, 2_000),
    "estate_members": (4, 1),            # + the management account
    "estate_regions": (3, 2),
    "estate_instances": (2_000, 40),
    "estate_buckets": (200, 6),
    "estate_clusters": (100, 4),
    "org_accounts": (1_000, 20),         # including the management account
    "worker_units": (10, 2),
    "worker_instances_per_unit": (1_000, 50),
    "starts": (20, 5),
    "scale_sample_accounts": (3, 1),
    "live_singles": (50, 5),             # item 8: single events, one batch each
    "live_bursts": (20, 2),              # item 8: batches of 10 events for 10 instances
    "security_groups": (1_000, 50),      # item 9: in one region, one DescribeSecurityGroups page
    "security_group_rules": (20, 3),     # item 9: ingress rules of each group
}
RUNS = {  # (full, quick)
    "map_rust": (5, 1), "map_cli": (3, 1), "map_python": (3, 1),
    "sync": (3, 1), "dry_run": (3, 1), "throttled": (3, 1), "plan": (3, 1), "fanout": (3, 1), "worker": (3, 1),
    "state": (3, 1), "scale_fanout": (3, 1), "describe": (5, 1),
}


# ------------------------------------------------------------------------------------------------
# Small helpers
# ------------------------------------------------------------------------------------------------
def log(msg: str) -> None:
    print(f"==> {msg}", file=sys.stderr, flush=True)


def stats(values: list) -> dict | None:
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values),
            "values": values}


def loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def cpu_seconds(pid: int) -> float:
    """utime + stime of a live process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def peak_rss_kib(pid: int) -> int | None:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def http_json(method: str, url: str, body=None, timeout: float = 120):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read() or b"null")


class Procs:
    """Background servers started by the benchmark, stopped (by pid) at exit."""

    def __init__(self):
        self.procs: list[subprocess.Popen] = []
        atexit.register(self.stop_all)

    def start(self, cmd, **kw) -> subprocess.Popen:
        proc = subprocess.Popen(cmd, **kw)
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc in self.procs:
            self.procs.remove(proc)

    def stop_all(self) -> None:
        for proc in list(self.procs):
            self.stop(proc)


PROCS = Procs()


def read_listening(proc: subprocess.Popen, what: str) -> int:
    line = proc.stdout.readline().decode()
    if not line.startswith("LISTENING "):
        raise SystemExit(f"{what} did not start: {line!r}")
    return int(line.split()[1])


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Moto:
    def __init__(self, work: Path, name: str):
        self.port = free_port()
        env = dict(os.environ, MOTO_EC2_LOAD_DEFAULT_AMIS="false")  # see tests/support/MOTO_NOTES.md §1
        self.log = open(work / f"moto-{name}.log", "wb")
        self.proc = PROCS.start([PY, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/moto-api/", timeout=2).read()
                break
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    raise SystemExit(f"moto did not start (see {self.log.name})")
                time.sleep(0.2)

    def seed(self, spec: dict) -> dict:
        out = subprocess.run([PY, str(ROOT / "tests/support/seed_moto.py"), "--endpoint", self.url, "--spec", "-"],
                             input=json.dumps(spec).encode(), capture_output=True)
        if out.returncode != 0:
            raise SystemExit(f"seed_moto.py failed: {out.stderr.decode()[-2000:]}")
        return json.loads(out.stdout)

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def stop(self):
        PROCS.stop(self.proc)


class FakePort:
    CLIENT_ID = "bench-client"
    SECRET = "bench-secret-0123456789"

    def __init__(self, work: Path, name: str):
        self.log = open(work / f"fake-port-{name}.log", "wb")
        self.proc = PROCS.start([PY, str(ROOT / "tests/support/fake_port.py"), "--port", "0", "--quiet",
                                 "--client-id", self.CLIENT_ID, "--client-secret", self.SECRET],
                                stdout=subprocess.PIPE, stderr=self.log)
        self.url = f"http://127.0.0.1:{read_listening(self.proc, 'fake Port')}"

    def env(self) -> dict:
        return {"PORT_BASE_URL": self.url, "PORT_CLIENT_ID": self.CLIENT_ID, "PORT_CLIENT_SECRET": self.SECRET}

    def reset(self, **config):
        http_json("POST", f"{self.url}/_fake/reset", {})
        if config:
            http_json("POST", f"{self.url}/_fake/config", config)

    def state(self) -> dict:
        return http_json("GET", f"{self.url}/_fake/state")

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def stop(self):
        PROCS.stop(self.proc)


class Proxy:
    def __init__(self, work: Path, upstream: str, name: str, *throttle: str):
        self.log = open(work / f"proxy-{name}.log", "wb")
        self.proc = PROCS.start([PY, str(ROOT / "bench/aws_proxy.py"), "--upstream", upstream, "--port", "0",
                                 *throttle], stdout=subprocess.PIPE, stderr=self.log)
        self.url = f"http://127.0.0.1:{read_listening(self.proc, 'AWS proxy')}"

    def stats(self, reset: bool = False) -> dict:
        return http_json("POST" if reset else "GET", f"{self.url}/_proxy/{'reset' if reset else 'stats'}",
                         {} if reset else None)

    def stop(self):
        PROCS.stop(self.proc)


STATE_TABLE = "port-aws-sync-state"


def create_state_table(moto_url: str, name: str = STATE_TABLE) -> dict:
    """The sync state's DynamoDB table in moto (the Lambdas require STATE_TABLE); returns the env to add. A run
    that must write everything again (a first sync) needs a table of its own: the state remembers what was
    written."""
    import boto3  # noqa: E402

    ddb = boto3.client("dynamodb", endpoint_url=moto_url, region_name="us-east-1", aws_access_key_id="testing",
                       aws_secret_access_key="testing")
    try:
        ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                    {"AttributeName": "sk", "KeyType": "RANGE"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                               {"AttributeName": "sk", "AttributeType": "S"}])
    except ddb.exceptions.ResourceInUseException:
        pass
    return {"STATE_TABLE": name}


def aws_env(endpoint: str) -> dict:
    """The CLI's environment, nothing inherited but PATH/HOME (like tests/common/mod.rs)."""
    env = {k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ}
    env.update({"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true", "LOG_LEVEL": "info"})
    return env


def org_env(endpoint: str, mgmt: str, regions: list | None) -> dict:
    env = aws_env(endpoint)
    env.update({"ORGANIZATION_ROLE_ARN": f"arn:aws:iam::{mgmt}:role/{ROLE}", "EXTERNAL_ID": "bench-external-id"})
    if regions:
        env["REGION_POLICY"] = json.dumps({"allow": regions})
    return env


TIME_FIELDS = {
    "User time (seconds)": ("user_s", float),
    "System time (seconds)": ("sys_s", float),
    "Maximum resident set size (kbytes)": ("max_rss_kib", int),
    "Exit status": ("exit", int),
}


def timed(cmd: list, env: dict, work: Path, stdout=subprocess.DEVNULL, tag: str = "run") -> dict:
    """Runs cmd under /usr/bin/time -v; returns wall (monotonic), user, sys, peak RSS, exit, stderr file."""
    tfile = work / f"{tag}.time"
    efile = work / f"{tag}.stderr"
    load = loadavg()
    with open(efile, "wb") as err:
        start = time.monotonic()
        proc = subprocess.run(["/usr/bin/time", "-v", "-o", str(tfile), *cmd], env=env, stdout=stdout,
                              stderr=err, stdin=subprocess.DEVNULL)
        wall = time.monotonic() - start
    out = {"wall_s": wall, "load_before": load, "stderr": str(efile)}
    for line in tfile.read_text().splitlines():
        key, _, value = line.strip().rpartition(": ")
        if key in TIME_FIELDS:
            name, conv = TIME_FIELDS[key]
            out[name] = conv(value)
    out.setdefault("exit", proc.returncode)
    out["cpu_s"] = out.get("user_s", 0) + out.get("sys_s", 0)
    return out


def fanout_answer(answer: dict | None) -> dict:
    """The parts of a fan-out invocation's answer the results keep: how it ended and its counts."""
    body = (answer or {}).get("body") or {}
    return {"kind": (answer or {}).get("kind"),
            **{k: body.get(k) for k in ("units", "workItems", "enqueued", "sqsBatches",
                                        "durationMs", "errorType", "errorMessage") if k in body}}


def tail(path: str, n: int = 15) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


# ------------------------------------------------------------------------------------------------
# Item 1: mapping throughput
# ------------------------------------------------------------------------------------------------
def item_mapping(ctx) -> dict:
    n = ctx.size("map_objects")
    cache = ctx.cache / "inputs"
    cache.mkdir(parents=True, exist_ok=True)
    gen = ROOT / "bench/gen_ec2.py"
    data, stamp_file = cache / f"ec2-{n}.jsonl", cache / f"ec2-{n}.stamp"
    stamp = f"{n} {hashlib.sha256(gen.read_bytes()).hexdigest()}"
    if not (data.exists() and stamp_file.exists() and stamp_file.read_text() == stamp):
        log(f"item 1: generating {n:,} synthetic EC2 raw objects")
        subprocess.run([PY, str(gen), "--count", str(n), "--out", str(data)], check=True)
        stamp_file.write_text(stamp)
    program = ctx.work / "entity.jq"
    program.write_text(subprocess.run([PY, str(ROOT / "bench/ocean_jq.py"), "--config", str(MAPPING), "--jq-program"],
                                      check=True, capture_output=True, text=True).stdout)
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    commands = {
        "port-aws-sync map": [*pin, str(ctx.bin("port-aws-sync")), "map", "--config", str(MAPPING), str(data)],
        "jq CLI": [*pin, "jq", "-c", "-f", str(program), str(data)],
        "Python jq (Ocean)": [*pin, PY, str(ROOT / "bench/ocean_jq.py"), "--config", str(MAPPING), str(data)],
    }
    runs = {"port-aws-sync map": ctx.runs("map_rust"), "jq CLI": ctx.runs("map_cli"),
            "Python jq (Ocean)": ctx.runs("map_python")}
    if ctx.map_tools:  # --map-tools: a subset of the tools (port-aws-sync map is always run)
        commands = {k: v for k, v in commands.items() if k == "port-aws-sync map" or k in ctx.map_tools}

    # Same output from all three on a sample (the benchmark compares equal work).
    sample = ctx.work / "sample.jsonl"
    with open(data) as src, open(sample, "w") as dst:
        for i, line in enumerate(src):
            if i >= 2000:
                break
            dst.write(line)
    outputs = {}
    for name, cmd in commands.items():
        cmd = [c if c != str(data) else str(sample) for c in cmd]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        outputs[name] = [json.loads(line) for line in out.splitlines() if line.strip()]
    reference = outputs["port-aws-sync map"]
    same = {name: out == reference for name, out in outputs.items()}
    if not all(same.values()):
        log(f"item 1: WARNING outputs differ on the sample: {same}")

    result = {"objects": n, "input_bytes": data.stat().st_size, "pinned_to_one_core": bool(pin),
              "same_output_on_2000_sample": same, "tools": {}}
    for name, cmd in commands.items():
        log(f"item 1: {name} x{runs[name]} on {n:,} objects")
        export = ctx.work / "hyperfine.json"
        # -N: no intermediate shell; output goes to /dev/null.
        subprocess.run(["hyperfine", "-N", "--style", "none", "--runs", str(runs[name]), "--export-json",
                        str(export), "--command-name", name, shlex.join(cmd)], check=True, stdout=subprocess.DEVNULL)
        times = json.loads(export.read_text())["results"][0]["times"]
        rss = timed(cmd, dict(os.environ), ctx.work, tag="map-rss")
        result["tools"][name] = {"wall_s": stats(times), "entities_per_s": stats([n / t for t in times]),
                                 "max_rss_kib": rss.get("max_rss_kib"), "command": " ".join(cmd)}
    rate = {name: t["entities_per_s"]["median"] for name, t in result["tools"].items()}
    if "Python jq (Ocean)" in rate:
        result["speedup_vs_python_jq"] = rate["port-aws-sync map"] / rate["Python jq (Ocean)"]
    result["speedup_vs_jq_cli"] = rate["port-aws-sync map"] / rate["jq CLI"]
    result["targets"] = {
        ">= 10x Python jq": result.get("speedup_vs_python_jq", 0) >= 10,
        ">= 2x jq CLI": result["speedup_vs_jq_cli"] >= 2,
    }
    return result


# ------------------------------------------------------------------------------------------------
# Item 2 and 5: one-time sync on a seeded estate, clean and throttled
# ------------------------------------------------------------------------------------------------
def spread(total: int, slots: int) -> list:
    return [total // slots + (1 if i < total % slots else 0) for i in range(slots)]


def estate_spec(members: int, regions: list, instances: int, buckets: int, clusters: int) -> dict:
    keys = ["mgmt"] + [f"member{i}" for i in range(1, members + 1)]
    accounts = [{"key": "mgmt", "management": True}] + [
        {"key": k, "name": k, "email": f"{k}@example.com", "ou": f"Workloads/{'Prod' if i % 2 else 'Dev'}"}
        for i, k in enumerate(keys[1:], start=1)]
    slots = [(k, r) for k in keys for r in regions]
    inst, clus = spread(instances, len(slots)), spread(clusters, len(slots))
    resources: dict = {k: {"regions": {}, "buckets": []} for k in keys}
    for (k, r), ni, nc in zip(slots, inst, clus):
        resources[k]["regions"][r] = {"ec2_instances": ni, "ecs_clusters": nc, "ec2_tags": {"env": "bench"},
                                      "ec2_names": "batch"}
    per_account = spread(buckets, len(keys))
    for k, nb in zip(keys, per_account):
        for b in range(nb):
            bucket = {"name": f"bench-{k}-{b:03d}", "region": regions[b % len(regions)]}
            if b % 4 == 0:
                bucket["tags"] = {"team": "bench", "n": str(b)}
            if b % 3 == 0:
                bucket["encryption"] = True
            if b % 5 == 0:
                bucket["public_access_block"] = True
            if b % 7 == 0:
                bucket["ownership_controls"] = True
            resources[k]["buckets"].append(bucket)
    return {"organization": True, "role_name": ROLE, "accounts": accounts, "resources": resources}


def port_request_stats(state: dict) -> dict:
    v1 = [r for r in state["requests"] if r["path"].startswith("/v1/")]
    routes: dict = {}
    for r in v1:
        key = f"{r['method']} {r.get('route') or r['path']}"
        routes[key] = routes.get(key, 0) + 1
    bulk = [r for r in v1 if (r.get("route") or "").endswith("/entities/bulk") and r["status"] < 300]
    return {"total": len(v1), "status_429": sum(1 for r in v1 if r["status"] == 429),
            "by_route": dict(sorted(routes.items(), key=lambda kv: -kv[1])),
            "bulk_upserts": len(bulk), "entities_in_bulk_upserts": sum(r.get("entities") or 0 for r in bulk),
            "schema_violations": len(state["schema_violations"])}


def entity_counts(state: dict) -> dict:
    return {bp: len(ents) for bp, ents in state["entities"].items() if ents}


class Estate:
    def __init__(self, ctx):
        self.ctx = ctx
        members, nreg = ctx.size("estate_members"), ctx.size("estate_regions")
        self.regions = REGIONS3[:nreg]
        self.expected = {"ec2Instance": ctx.size("estate_instances"), "s3Bucket": ctx.size("estate_buckets"),
                         "ecsCluster": ctx.size("estate_clusters"), "awsAccount": members + 1}
        self.moto = Moto(ctx.work, "estate")
        self.port = FakePort(ctx.work, "estate")
        log(f"items 2/5: seeding {members + 1} accounts x {nreg} regions, {self.expected['ec2Instance']:,} instances, "
            f"{self.expected['s3Bucket']} buckets, {self.expected['ecsCluster']} clusters")
        started = time.monotonic()
        self.seeded = self.moto.seed(estate_spec(members, self.regions, self.expected["ec2Instance"],
                                                 self.expected["s3Bucket"], self.expected["ecsCluster"]))
        self.seed_s = time.monotonic() - started
        self.mgmt = self.seeded["accounts"]["mgmt"]["id"]
        self.throttled_account = self.seeded["accounts"]["member1"]["id"]

    def env(self, endpoint: str | None = None, port: bool = True) -> dict:
        env = org_env(endpoint or self.moto.url, self.mgmt, self.regions)
        if port:
            env.update(self.port.env())
        return env

    def sync(self, tag: str, endpoint: str | None = None, port_config: dict | None = None,
             dry_run: bool = False, state: Path | None = None) -> dict:
        """One sync; returns timings, summary, Port request stats (of this sync only).

        Without `state`: a first sync, into an empty fake Port catalog and with a sync state file of its
        own (the CLI's embedded store would otherwise remember earlier runs). With `state`: a sync over
        that state file and the catalog as the earlier syncs left it."""
        work = self.ctx.work
        summary_file = work / f"{tag}.summary.json"
        cmd = [str(self.ctx.bin("port-aws-sync")), "sync", "--summary-json", str(summary_file)]
        if dry_run:
            cmd += ["--dry-run", "--output", str(work / f"{tag}.entities.jsonl")]
        elif state is None:
            self.port.reset(**(port_config or {}))
        env = self.env(endpoint, port=not dry_run)
        env["STATE_PATH"] = str(state or work / f"{tag}.state.sqlite")
        seen = 0 if dry_run or state is None else len(self.port.state()["requests"])
        moto_cpu, port_cpu = self.moto.cpu(), self.port.cpu()
        run = timed(cmd, env, work, tag=tag)
        run["moto_cpu_s"] = self.moto.cpu() - moto_cpu
        run["fake_port_cpu_s"] = self.port.cpu() - port_cpu
        if run["exit"] != 0:
            log(f"{tag}: exit {run['exit']}\n{tail(run['stderr'])}")
        summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
        run["summary"] = {k: summary.get(k) for k in ("unitsTotal", "unitsOk", "unitsFailed", "entities",
                                                      "portFailureCount", "awsApiCalls", "port", "durationMs")}
        run["entities_written"] = sum((summary.get("entities") or {}).values())
        if dry_run:
            with open(work / f"{tag}.entities.jsonl") as fh:
                run["dry_run_lines"] = sum(1 for _ in fh)
            run["complete"] = run["dry_run_lines"] == sum(self.expected.values())
        else:
            port_state = self.port.state()
            port_state["requests"] = port_state["requests"][seen:]
            run["port_requests"] = port_request_stats(port_state)
            run["catalog"] = entity_counts(port_state)
            run["complete"] = all(run["catalog"].get(bp, 0) == n for bp, n in self.expected.items())
        if not run["complete"]:
            log(f"{tag}: INCOMPLETE: expected {self.expected}, got {run.get('catalog') or run.get('dry_run_lines')}")
        return run

    def stop(self):
        self.port.stop()
        self.moto.stop()


def summarize_runs(runs: list) -> dict:
    out = {k: stats([r.get(k) for r in runs]) for k in
           ("wall_s", "user_s", "sys_s", "cpu_s", "max_rss_kib", "moto_cpu_s", "fake_port_cpu_s", "load_before")}
    out["all_complete"] = all(r["complete"] for r in runs)
    out["all_exit_0"] = all(r["exit"] == 0 for r in runs)
    return out


def item_sync(ctx, estate: Estate) -> dict:
    result: dict = {"estate": {"accounts": ctx.size("estate_members") + 1, "regions": estate.regions,
                               "expected_entities": estate.expected, "seed_s": estate.seed_s}}
    # moto builds some per-account/per-region state on first use; the first sync pays for it. Not timed.
    log("item 2: warm-up sync (not counted)")
    warmup = estate.sync("sync-warmup")
    result["warmup_wall_s"] = warmup["wall_s"]
    runs = []
    for i in range(ctx.runs("sync")):
        log(f"item 2: sync {i + 1}/{ctx.runs('sync')}")
        runs.append(estate.sync(f"sync-{i}"))
    dry = []
    for i in range(ctx.runs("dry_run")):
        log(f"item 2: sync --dry-run {i + 1}/{ctx.runs('dry_run')}")
        dry.append(estate.sync(f"dry-{i}", dry_run=True))
    log("item 2: one more sync through the counting proxy (AWS calls per operation)")
    proxy = Proxy(ctx.work, estate.moto.url, "count")
    counted = estate.sync("sync-counted", endpoint=proxy.url)
    aws = proxy.stats()
    proxy.stop()

    last = runs[-1]
    entities = last["entities_written"]
    port_calls = last["summary"].get("port") or {}
    port_total = last["port_requests"]["total"]
    bulk = sum(n for route, n in last["port_requests"]["by_route"].items() if route.endswith("/entities/bulk"))
    result["sync"] = summarize_runs(runs)
    result["dry_run"] = summarize_runs(dry)
    result["runs"] = {"sync": runs, "dry_run": dry, "counted": counted}
    result["entities_upserted"] = entities
    result["port"] = {
        "requests_total": port_total,
        "requests_per_entity": port_total / entities if entities else None,
        "bulk_upsert_requests": bulk,
        "bulk_upsert_requests_per_entity": bulk / entities if entities else None,
        "by_route": last["port_requests"]["by_route"],
        "client_counters": port_calls,
        "request_body_bytes_per_entity": (port_calls.get("bytesSent") / entities
                                          if port_calls.get("bytesSent") and entities else None),
        "schema_violations": last["port_requests"]["schema_violations"],
    }
    units = counted["summary"].get("unitsTotal") or 0
    result["aws"] = {
        "calls_total": aws["total"],
        "calls_by_operation": aws["calls"],
        "fetch_calls_in_summary": counted["summary"].get("awsApiCalls"),
        "units": units,
        "calls_per_entity": aws["total"] / entities if entities else None,
    }
    wall, cpu = result["sync"]["wall_s"]["median"], result["sync"]["cpu_s"]["median"]
    moto_cpu = result["sync"]["moto_cpu_s"]["median"]
    result["cpu_share_of_wall"] = cpu / wall
    result["moto_cpu_vs_ours"] = moto_cpu / cpu if cpu else None
    result["targets"] = {
        "peak RSS <= 64 MiB": result["sync"]["max_rss_kib"]["max"] <= 64 * 1024,
        "Port requests per upserted entity <= 0.06": result["port"]["requests_per_entity"] <= 0.06,
        "CPU a small fraction of wall (< 25%)": result["cpu_share_of_wall"] < 0.25,
        "every entity arrived": result["sync"]["all_complete"] and result["dry_run"]["all_complete"],
    }
    return result


def item_throttling(ctx, estate: Estate) -> dict:
    victim = estate.throttled_account
    # One token every 2 s, no burst to speak of: that account's DescribeRegions and DescribeInstances calls
    # (4 in all, partly at once) get RequestLimitExceeded several times and must back off.
    throttle = ["--throttle-account", victim, "--throttle-service", "ec2", "--rate", "0.5", "--burst", "1"]
    clean, throttled = [], []
    for i in range(ctx.runs("throttled")):
        log(f"item 5: clean sync through the proxy {i + 1}/{ctx.runs('throttled')}")
        proxy = Proxy(ctx.work, estate.moto.url, f"clean-{i}")
        clean.append(estate.sync(f"clean-{i}", endpoint=proxy.url))
        proxy.stop()
        log(f"item 5: throttled sync {i + 1}/{ctx.runs('throttled')} (20% Port 429 + EC2 throttling of {victim})")
        proxy = Proxy(ctx.work, estate.moto.url, f"throttled-{i}", *throttle)
        run = estate.sync(f"throttled-{i}", endpoint=proxy.url,
                          port_config={"rate_limit_429": 0.2, "retry_after": 1, "seed": 1000 + i})
        run["aws_proxy"] = proxy.stats()
        proxy.stop()
        throttled.append(run)
    c, t = summarize_runs(clean), summarize_runs(throttled)
    return {
        "throttled_account": victim,
        "ec2_throttle": {"rate_per_s": 0.5, "burst": 1, "error": "HTTP 503 RequestLimitExceeded"},
        "port_429_share": 0.2, "retry_after_s": 1,
        "clean": c, "throttled": t,
        "port_429s": stats([r["port_requests"]["status_429"] for r in throttled]),
        "port_retries": stats([(r["summary"].get("port") or {}).get("retries") for r in throttled]),
        "ec2_throttled_calls": stats([r["aws_proxy"]["throttled"] for r in throttled]),
        "slowdown": t["wall_s"]["median"] / c["wall_s"]["median"],
        "runs": {"clean": clean, "throttled": throttled},
        "targets": {"every entity still arrives": t["all_complete"] and t["all_exit_0"]},
    }


# ------------------------------------------------------------------------------------------------
# Item 6: Port requests with the sync state (fresh sync, unchanged resync, 1% changed)
# ------------------------------------------------------------------------------------------------
def change_instances(estate: Estate, share: float) -> int:
    """Adds a tag to `share` of the estate's instances (spread over its account-regions); returns how many."""
    sys.path.insert(0, str(ROOT / "tests/support"))
    from seed_moto import Aws  # noqa: E402 (the bench venv has the test requirements)

    aws = Aws(estate.moto.url, estate.mgmt)
    slots = [(estate.seeded["accounts"][key]["id"], region, ids)
             for key, res in estate.seeded["resources"].items()
             for region, ids in (res.get("ec2_instances") or {}).items() if ids]
    total = sum(len(ids) for _, _, ids in slots)
    wanted = max(1, round(total * share))
    changed = 0
    for i, (account, region, ids) in enumerate(slots):
        take = spread(wanted, len(slots))[i]
        if take:
            aws.client(account, "ec2", region).create_tags(
                Resources=ids[:take], Tags=[{"Key": "bench-change", "Value": str(time.time())}])
            changed += take
    return changed


def state_run_view(run: dict, entities: int) -> dict:
    p = run["port_requests"]
    return {"wall_s": run["wall_s"], "cpu_s": run.get("cpu_s"), "max_rss_kib": run.get("max_rss_kib"),
            "exit": run["exit"], "complete": run["complete"], "port_requests": p["total"],
            "requests_per_entity": p["total"] / entities, "bulk_upserts": p["bulk_upserts"],
            "entities_upserted": p["entities_in_bulk_upserts"],
            "requests_other_than_bulk_upserts": p["total"] - p["bulk_upserts"], "by_route": p["by_route"],
            "schema_violations": p["schema_violations"],
            "units": run["summary"].get("unitsTotal")}


def item_state(ctx, estate: Estate, warm: bool) -> dict:
    entities = sum(estate.expected.values())
    if not warm:
        log("item 6: warm-up sync (not counted)")
        estate.sync("state-warmup")
    runs: dict = {"fresh": [], "unchanged": [], "changed": []}
    changed_resources = []
    for i in range(ctx.runs("state")):
        state = ctx.work / f"state-{i}.sqlite"
        log(f"item 6: fresh sync with an empty sync state {i + 1}/{ctx.runs('state')}")
        fresh = estate.sync(f"state-fresh-{i}")
        shutil.copy(ctx.work / f"state-fresh-{i}.state.sqlite", state)
        log(f"item 6: unchanged resync {i + 1}/{ctx.runs('state')}")
        unchanged = estate.sync(f"state-unchanged-{i}", state=state)
        n = change_instances(estate, 0.01)
        changed_resources.append(n)
        log(f"item 6: resync after tagging {n} instances (1%) {i + 1}/{ctx.runs('state')}")
        changed = estate.sync(f"state-changed-{i}", state=state)
        for name, run in (("fresh", fresh), ("unchanged", unchanged), ("changed", changed)):
            runs[name].append(state_run_view(run, entities))
    result: dict = {"entities": entities, "changed_resources": changed_resources, "runs": runs}
    for name, rs in runs.items():
        result[name] = {k: stats([r[k] for r in rs]) for k in
                        ("wall_s", "cpu_s", "max_rss_kib", "port_requests", "requests_per_entity",
                         "bulk_upserts", "entities_upserted", "requests_other_than_bulk_upserts")}
        result[name]["by_route"] = rs[-1]["by_route"]
        result[name]["all_complete"] = all(r["complete"] and r["exit"] == 0 for r in rs)
    worst = lambda name, k: result[name][k]["max"]  # noqa: E731
    result["targets"] = {
        "fresh sync <= 0.055 Port requests per entity": worst("fresh", "requests_per_entity") <= 0.055,
        "unchanged resync: 0 upserts": worst("unchanged", "entities_upserted") == 0,
        "unchanged resync <= 0.01 Port requests per entity": worst("unchanged", "requests_per_entity") <= 0.01,
        # "About that 1%": every changed resource written, and not more than twice as many entities.
        "1% changed: writes about that 1%": all(
            n <= r["entities_upserted"] <= 2 * n for n, r in zip(changed_resources, runs["changed"])),
        "every entity arrived": all(result[k]["all_complete"] for k in runs),
    }
    return result


# ------------------------------------------------------------------------------------------------
# Item 4: fan-out at organization scale
# ------------------------------------------------------------------------------------------------
def scheduled_event() -> dict:
    return {"version": "0", "id": "00000000-0000-0000-0000-000000000001", "detail-type": "Scheduled Event",
            "source": "aws.events", "account": "123456789012", "time": "2026-11-23T12:00:00Z", "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/port-aws-sync-schedule"], "detail": {}}


def run_lambda(ctx, name: str, event, env: dict, timeout: float, tag: str) -> dict:
    """Starts a Lambda binary under the local runtime API, delivers one event, waits for its answer; returns
    wall time (process start to answer), peak RSS and CPU read from /proc before stopping it."""
    api = RuntimeApi()
    api.push(event)
    full_env = {**env, **lambda_env(api, f"port-aws-sync-{name}", memory_mb=128)}
    errfile = open(ctx.work / f"{tag}.stderr", "wb")
    load = loadavg()
    start = time.monotonic()
    proc = PROCS.start([str(ctx.bin(name))], env=full_env, stdout=errfile, stderr=subprocess.STDOUT)
    answer, deadline = None, start + timeout
    while answer is None and time.monotonic() < deadline:
        answer = api.wait_result(1)
        if answer is None and proc.poll() is not None:
            break  # it exited before answering (a configuration error, a crash)
    wall = time.monotonic() - start
    out = {"wall_s": wall, "load_before": load, "stderr": errfile.name}
    if proc.poll() is None:
        # The process is now blocked on the next /invocation/next: read its counters, then stop it.
        out["max_rss_kib"] = peak_rss_kib(proc.pid)
        out["cpu_s"] = cpu_seconds(proc.pid)
    PROCS.stop(proc)
    api.close()
    out["answer"] = {"kind": answer[1], "body": answer[2]} if answer else None
    if not answer:
        log(f"{tag}: no answer within {timeout:.0f} s\n{tail(errfile.name)}")
    return out


def sqs_record(i: int, body: str, queue: str) -> dict:
    """Message `i` of an SQS event as Lambda's event source mapping delivers it from `queue`."""
    return {"messageId": f"00000000-0000-0000-0000-{i:012d}", "receiptHandle": f"bench-{i}", "body": body,
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1763900000000",
                           "SenderId": "AIDAEXAMPLE", "ApproximateFirstReceiveTimestamp": "1763900000001"},
            "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
            "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{queue}", "awsRegion": "us-east-1"}


FANOUT, PLAN = "fanout", "plan"


def item_fanout(ctx) -> dict:
    n = ctx.size("org_accounts")
    moto = Moto(ctx.work, "org")
    port = FakePort(ctx.work, "org")
    log(f"item 4: seeding an organization of {n:,} accounts (takes a while in moto)")
    spec = {"organization": True, "role_name": ROLE,
            "accounts": [{"key": "mgmt", "management": True}] + [
                {"key": f"a{i:04d}", "name": f"account-{i:04d}", "email": f"a{i:04d}@example.com"}
                for i in range(1, n)]}
    started = time.monotonic()
    seeded = moto.seed(spec)
    seed_s = time.monotonic() - started
    mgmt = seeded["accounts"]["mgmt"]["id"]
    env = org_env(moto.url, mgmt, None)  # no region policy: every enabled region
    result: dict = {"accounts": n, "seed_s": seed_s}

    plans = []
    # The first plan touches every account's EC2 backend in moto for the first time (moto then builds the
    # account's default VPCs etc.): it is reported separately as the cold run; the timed runs come after.
    for i in range(-1, ctx.runs("plan")):
        log(f"item 4: port-aws-sync plan {'(cold moto, reported apart)' if i < 0 else f'{i + 1}/{ctx.runs(PLAN)}'}")
        out = ctx.work / f"plan-{i}.jsonl"
        moto_cpu = moto.cpu()
        with open(out, "wb") as fh:
            run = timed([str(ctx.bin("port-aws-sync")), "plan"], env, ctx.work, stdout=fh, tag=f"plan-{i}")
        run["moto_cpu_s"] = moto.cpu() - moto_cpu
        units = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
        run["units"] = len(units)
        run["accounts_planned"] = len({u["account"]["id"] for u in units})
        run["regions_per_account"] = len({u["region"] for u in units if u["region"] != "global"})
        run["sqs_batches_needed"] = -(-len(units) // 10)
        run["work_item_bytes_max"] = max(len(json.dumps(u, separators=(",", ":"))) for u in units) if units else 0
        if run["exit"] != 0:
            log(f"plan: exit {run['exit']}\n{tail(run['stderr'])}")
        plans.append(run)
    cold, plans = plans[0], plans[1:]
    result["plan_cold"] = {k: cold.get(k) for k in ("wall_s", "cpu_s", "max_rss_kib", "moto_cpu_s", "units")}
    log("item 4: one more plan through the counting proxy")
    proxy = Proxy(ctx.work, moto.url, "plan-count")
    counted = timed([str(ctx.bin("port-aws-sync")), "plan"], {**env, "AWS_ENDPOINT_URL": proxy.url}, ctx.work,
                    tag="plan-counted")
    aws = proxy.stats()
    proxy.stop()
    result["plan"] = {k: stats([r.get(k) for r in plans]) for k in
                      ("wall_s", "cpu_s", "max_rss_kib", "moto_cpu_s", "load_before")}
    result["plan"].update({k: plans[-1][k] for k in ("units", "accounts_planned", "regions_per_account",
                                                     "sqs_batches_needed", "work_item_bytes_max")})
    result["plan"]["aws_calls_total"] = aws["total"]
    result["plan"]["aws_calls_by_operation"] = aws["calls"]
    result["plan"]["counted_run_wall_s"] = counted["wall_s"]
    result["plan_runs"] = plans

    if not ctx.bin("fanout").exists():
        result["fanout"] = {"status": "not built",
                            "note": "target/release/fanout does not exist yet; only the planning half is measured"}
        result["targets"] = {"plan well under 60 s against the emulator (<= 30 s)":
                             result["plan"]["wall_s"]["median"] <= 30}
    else:
        # Every fan-out goes through the proxy: it counts the AWS calls and answers SendMessageBatch itself
        # (--fake-sqs, see bench/aws_proxy.py: moto's SQS slows down with every queued message).
        queue = f"{moto.url}/123456789012/port-aws-sync-work"
        table = create_state_table(moto.url)
        runs = []
        for i in range(ctx.runs("fanout")):
            proxy = Proxy(ctx.work, moto.url, f"fanout-{i}", "--fake-sqs")
            fenv = {**org_env(proxy.url, mgmt, None), **port.env(), "WORK_QUEUE_URL": queue, **table}
            port.reset()
            log(f"item 4: fanout {i + 1}/{ctx.runs(FANOUT)} (scheduled event)")
            moto_cpu = moto.cpu()
            run = run_lambda(ctx, "fanout", scheduled_event(), fenv, timeout=900, tag=f"fanout-{i}")
            run["moto_cpu_s"] = moto.cpu() - moto_cpu
            run["aws"] = proxy.stats()
            run["messages_enqueued"] = run["aws"]["sqs_messages"]
            run["port_requests"] = port_request_stats(port.state())
            proxy.stop()
            run["answer"] = fanout_answer(run["answer"])
            if run["answer"]["kind"] != "response":
                log(f"fanout: {run['answer']}\n{tail(run['stderr'])}")
            runs.append(run)
        last = runs[-1]
        result["fanout"] = {k: stats([r.get(k) for r in runs]) for k in
                            ("wall_s", "cpu_s", "max_rss_kib", "moto_cpu_s", "load_before")}
        result["fanout"].update({
            "messages_enqueued": last["messages_enqueued"],
            "answer": last["answer"],
            "aws_calls_total": last["aws"]["total"],
            "aws_calls_by_operation": last["aws"]["calls"],
            "sqs_send_message_batch_calls": last["aws"]["calls"].get("sqs:SendMessageBatch", 0),
            "port_requests": last["port_requests"]["total"],
            "port_requests_by_route": last["port_requests"]["by_route"],
            "sqs": "answered by bench/aws_proxy.py --fake-sqs (moto's SQS is O(queue length) per send)",
        })
        result["fanout_runs"] = runs
        result["targets"] = {
            # "Well under 60 s" is read as at most half of it.
            "fan-out well under 60 s against the emulator (<= 30 s)": result["fanout"]["wall_s"]["median"] <= 30,
            # One message per (account, region) with its kinds: the fan-out's units are the plan's.
            "every unit enqueued": all(r["answer"].get("units") == result["plan"]["units"]
                                       and r["messages_enqueued"] == r["answer"].get("workItems")
                                       and r["answer"].get("enqueued") == r["answer"].get("workItems")
                                       for r in runs),
        }
    port.stop()
    moto.stop()
    return result


# ------------------------------------------------------------------------------------------------
# Item 7: a 1,000-account x 17-region estate with every kind mapped, most units empty
# ------------------------------------------------------------------------------------------------
# The regions AWS enables by default (no opt-in).
REGIONS17 = ["us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-west-1", "eu-west-2",
             "eu-west-3", "eu-central-1", "eu-north-1", "ap-south-1", "ap-northeast-1", "ap-northeast-2",
             "ap-northeast-3", "ap-southeast-1", "ap-southeast-2", "sa-east-1"]


def every_kind_mapping(work: Path) -> Path:
    """Every docs/examples/<slug>/ mapping in one port-app-config (as tests/example_blueprints.rs does)."""
    import yaml  # noqa: E402 (moto depends on PyYAML)

    resources = []
    for d in sorted((ROOT / "docs/examples").iterdir()):
        resources += yaml.safe_load((d / f"{d.name}-mappings.yaml").read_text())["resources"]
    path = work / "every-kind-mapping.json"
    path.write_text(json.dumps({"createMissingRelatedEntities": True, "resources": resources}))
    return path


def item_scale(ctx) -> dict:
    n = ctx.size("org_accounts")
    sample_n = ctx.size("scale_sample_accounts")
    moto = Moto(ctx.work, "scale")
    port = FakePort(ctx.work, "scale")
    mapping = every_kind_mapping(ctx.work)
    log(f"item 7: seeding an organization of {n:,} accounts")
    spec = {"organization": True, "role_name": ROLE,
            "accounts": [{"key": "mgmt", "management": True}] + [
                {"key": f"a{i:04d}", "name": f"account-{i:04d}", "email": f"a{i:04d}@example.com"}
                for i in range(1, n)]}
    started = time.monotonic()
    seeded = moto.seed(spec)
    mgmt = seeded["accounts"]["mgmt"]["id"]
    env = {**org_env(moto.url, mgmt, REGIONS17), "MAPPING_CONFIG": str(mapping), "INITIALIZE_PORT_RESOURCES": "true"}
    result: dict = {"accounts": n, "regions": len(REGIONS17), "kinds": len(list((ROOT / "docs/examples").iterdir())),
                    "seed_s": time.monotonic() - started}

    log("item 7: port-aws-sync plan (cold moto, not counted)")
    out = ctx.work / "scale-plan.jsonl"
    with open(out, "wb") as fh:
        cold = timed([str(ctx.bin("port-aws-sync")), "plan"], env, ctx.work, stdout=fh, tag="scale-plan-cold")
    # Read line by line: at 1,000 accounts the plan is 650,000 units, too many to hold as dicts.
    n_units, by_scope, groups, accounts = 0, {"global": 0, "regional": 0}, set(), set()
    with open(out) as fh:
        for line in fh:
            if not line.strip():
                continue
            u = json.loads(line)
            n_units += 1
            by_scope["global" if u["region"] == "global" else "regional"] += 1
            groups.add((u["account"]["id"], u["region"]))
            accounts.add(u["account"]["id"])
    result["plan_cold"] = {k: cold.get(k) for k in ("wall_s", "cpu_s", "max_rss_kib", "exit")}
    result["units"] = n_units
    result["units_by_scope"] = by_scope
    result["account_regions"] = len(groups)

    queue = f"{moto.url}/123456789012/port-aws-sync-work"
    table = create_state_table(moto.url)
    runs = []
    for i in range(ctx.runs("scale_fanout")):
        proxy = Proxy(ctx.work, moto.url, f"scale-fanout-{i}", "--fake-sqs")
        fenv = {**env, **org_env(proxy.url, mgmt, REGIONS17), **port.env(), "WORK_QUEUE_URL": queue, **table}
        port.reset()
        log(f"item 7: fanout {i + 1}/{ctx.runs('scale_fanout')} ({n_units:,} units)")
        run = run_lambda(ctx, "fanout", scheduled_event(), fenv, timeout=900, tag=f"scale-fanout-{i}")
        aws = proxy.stats()
        proxy.stop()
        run["messages_enqueued"] = aws["sqs_messages"]
        run["sqs_batches"] = aws["calls"].get("sqs:SendMessageBatch", 0)
        run["aws_calls"] = aws["total"]
        run["port_requests"] = port_request_stats(port.state())
        run["answer"] = fanout_answer(run["answer"])
        if run["answer"]["kind"] != "response":
            log(f"item 7 fanout: {run['answer']}\n{tail(run['stderr'])}")
        runs.append(run)
    last = runs[-1]
    result["fanout"] = {k: stats([r.get(k) for r in runs]) for k in ("wall_s", "cpu_s", "max_rss_kib", "load_before")}
    result["fanout"].update({"messages_enqueued": last["messages_enqueued"], "sqs_batches": last["sqs_batches"],
                             "aws_calls": last["aws_calls"], "port_requests": last["port_requests"]["total"],
                             "port_requests_by_route": last["port_requests"]["by_route"],
                             "answer": last["answer"]})
    result["fanout_runs"] = runs

    # The worker side: every unit of a sample of accounts, run by the CLI over a fresh sync state (the same
    # unit code the worker runs), twice. Port requests per unit are what the units cost beyond the run's start.
    sample = sorted(accounts - {mgmt})[:sample_n]
    with open(out) as fh:
        sample_units = sum(1 for line in fh if line.strip() and json.loads(line)["account"]["id"] in sample)
    state = ctx.work / "scale-state.sqlite"
    port.reset()
    sample_runs = []
    for name in ("first", "again"):
        log(f"item 7: sync of {len(sample)} sample accounts ({sample_units:,} units), {name}")
        seen = len(port.state()["requests"])
        summary_file = ctx.work / f"scale-sample-{name}.summary.json"
        run = timed([str(ctx.bin("port-aws-sync")), "sync", "--accounts", ",".join(sample),
                     "--summary-json", str(summary_file)],
                    {**env, **port.env(), "STATE_PATH": str(state)}, ctx.work, tag=f"scale-sample-{name}")
        requests = port.state()["requests"][seen:]
        # The run's start (token, integration, blueprints) is the fan-out's in Lambda mode; units come after.
        start_routes = {"/v1/auth/access_token", "/v1/integration", "/v1/integration/{identifier}",
                        "/v1/blueprints", "/v1/blueprints/{identifier}"}
        unit_requests = [r for r in requests if r["path"].startswith("/v1/")
                         and (r.get("route") or r["path"]) not in start_routes]
        summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
        stats_all = port_request_stats({"requests": requests, "schema_violations": []})
        sample_runs.append({
            "run": name, "wall_s": run["wall_s"], "exit": run["exit"], "max_rss_kib": run.get("max_rss_kib"),
            "units": summary.get("unitsTotal"), "units_ok": summary.get("unitsOk"),
            "entities": sum((summary.get("entities") or {}).values()),
            "port_requests": stats_all["total"], "by_route": stats_all["by_route"],
            "bulk_upserts": stats_all["bulk_upserts"],
            "unit_requests": len(unit_requests),
            "unit_requests_other_than_bulk_upserts": len(unit_requests) - stats_all["bulk_upserts"],
        })
    result["sample"] = {"accounts": sample, "units": sample_units, "runs": sample_runs}
    port.stop()
    moto.stop()

    units_n = result["units"]
    other = lambda r: r["unit_requests_other_than_bulk_upserts"]  # noqa: E731
    per_unit = {r["run"]: other(r) / max(1, r["units"] or 1) for r in sample_runs}
    fanout_other = last["port_requests"]["total"] - last["port_requests"]["bulk_upserts"]
    result["extrapolated"] = {
        "note": "Port requests other than bulk upserts of a full sync = the fan-out's (measured) + "
                "units x the per-unit figure of the sample accounts (measured on their units)",
        "per_unit_other_than_bulk": per_unit,
        "full_sync_first": fanout_other + per_unit["first"] * units_n,
        "full_sync_again": fanout_other + per_unit["again"] * units_n,
    }
    result["targets"] = {
        "Port requests other than bulk upserts <= 1,000 per full sync (again)":
            result["extrapolated"]["full_sync_again"] <= 1000,
        "plan + enqueue <= 30 s": result["fanout"]["wall_s"]["median"] <= 30,
        "fan-out peak RSS <= 128 MiB": (result["fanout"]["max_rss_kib"] or {}).get("max", 1e12) <= 128 * 1024,
        # One message per (account, region) with its kinds, carrying every planned unit (the
        # organization-scoped kinds travel in an item of their own: at most one more).
        "every unit enqueued": all(r["answer"].get("units") == units_n
                                   and r["messages_enqueued"] == r["answer"].get("enqueued")
                                   == r["answer"].get("workItems")
                                   and 0 <= r["answer"]["workItems"] - result["account_regions"] <= 1
                                   for r in runs),
    }
    return result


# ------------------------------------------------------------------------------------------------
# Item 3: Lambda binaries
# ------------------------------------------------------------------------------------------------
def startup_times(ctx, name: str, env: dict) -> dict:
    api = RuntimeApi()
    times = []
    for _ in range(ctx.size("starts")):
        api.arm()
        start = time.monotonic()
        proc = PROCS.start([str(ctx.bin(name))], env={**env, **lambda_env(api, f"port-aws-sync-{name}")},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        first = api.wait_first_request(10)
        PROCS.stop(proc)
        times.append(None if first is None else (first - start) * 1000)
    api.close()
    ok = [t for t in times if t is not None]
    return {"ms": stats(ok), "starts": len(times), "no_request_within_10s": len(times) - len(ok)}


def port_round_trips(port: FakePort, n: int) -> dict:
    times = []
    for _ in range(n):
        start = time.monotonic()
        token = http_json("POST", f"{port.url}/v1/auth/access_token",
                          {"clientId": port.CLIENT_ID, "clientSecret": port.SECRET})["accessToken"]
        req = urllib.request.Request(f"{port.url}/v1/integration/port-aws-sync",
                                     headers={"Authorization": f"Bearer {token}"})
        try:
            urllib.request.urlopen(req, timeout=30).read()
        except urllib.error.HTTPError:
            pass  # 404: no integration yet, as on a first start
        times.append((time.monotonic() - start) * 1000)
    return stats(times)


def item_lambda(ctx) -> dict:
    sizes = {name: (ctx.bin(name).stat().st_size if ctx.bin(name).exists() else None)
             for name in ("port-aws-sync", "worker", "fanout")}
    result: dict = {"binary_bytes": sizes,
                    "binary_mib": {k: (v / MIB if v else None) for k, v in sizes.items()}}
    missing = [name for name in ("worker", "fanout") if not sizes[name]]
    if missing:
        result["status"] = f"not built: {', '.join(missing)} (target/release/{{worker,fanout}} do not exist yet)"
        log(f"item 3: {result['status']}")
        return result

    units_n, per_unit = ctx.size("worker_units"), ctx.size("worker_instances_per_unit")
    regions = REGIONS3[:2] if units_n > 1 else REGIONS3[:1]
    members = max(0, -(-units_n // len(regions)) - 1)
    keys = ["mgmt"] + [f"member{i}" for i in range(1, members + 1)]
    slots = [(k, r) for k in keys for r in regions][:units_n]
    spec = {"organization": True, "role_name": ROLE,
            "accounts": [{"key": "mgmt", "management": True}] + [
                {"key": k, "name": k, "email": f"{k}@example.com"} for k in keys[1:]],
            "resources": {k: {"regions": {r: {"ec2_instances": per_unit, "ec2_names": "batch"}
                                          for (kk, r) in slots if kk == k}} for k in keys}}
    moto = Moto(ctx.work, "lambda")
    port = FakePort(ctx.work, "lambda")
    log(f"item 3: seeding {units_n} units x {per_unit:,} instances")
    seeded = moto.seed(spec)
    mgmt = seeded["accounts"]["mgmt"]["id"]
    env = {**org_env(moto.url, mgmt, regions), **port.env(), **create_state_table(moto.url)}

    # Every start asks the fake Port for a token: lift its 100-per-5-minutes limit on the token route.
    port.reset(auth_rate_limit=None)
    # STATE_TABLE: required by both functions since the sync state; a start-up does not read it.
    env_start = {**env, "WORK_QUEUE_URL": f"{moto.url}/123456789012/port-aws-sync-work",
                 "STATE_TABLE": "port-aws-sync-state"}
    if not ctx.worker_only:  # --lambda-worker-only: the worker batch (memory, F4) alone
        for name in ("worker", "fanout"):
            log(f"item 3: {name} start-up x{ctx.size('starts')}")
            result[f"{name}_startup"] = startup_times(ctx, name, env_start)
        if ctx.startup_only:  # --lambda-startup-only: sizes and start-ups, no worker batch
            return result
        # Both functions read the Port token and the integration (mapping source) before their first runtime-API
        # request: how long those two round trips to the local (Python) fake Port take on their own.
        result["fake_port_init_round_trips_ms"] = port_round_trips(port, ctx.size("starts"))

    plan = subprocess.run([str(ctx.bin("port-aws-sync")), "plan", "--kinds", "AWS::EC2::Instance"], env=env,
                          capture_output=True, text=True, check=True).stdout
    wanted = {(seeded["accounts"][k]["id"], r) for k, r in slots}
    units = [json.loads(line) for line in plan.splitlines() if line.strip()]
    units = [u for u in units if (u["account"]["id"], u["region"]) in wanted]
    records = [sqs_record(i, json.dumps({"syncId": u["syncId"], "accountId": u["account"]["id"],
                                         "region": u["region"], "kind": u["kind"]}), "port-aws-sync-work")
               for i, u in enumerate(units)]
    runs = []
    blueprints = json.loads((ROOT / "src/port/default_blueprints.json").read_text())
    for i in range(ctx.runs("worker")):
        log(f"item 3: worker on one batch of {len(records)} units {i + 1}/{ctx.runs('worker')}")
        port.reset()
        http_json("POST", f"{port.url}/_fake/seed", {"blueprints": blueprints})  # the fan-out creates them
        # Each run is a first sync: a fresh state table, or the state says everything is written already.
        run_env = {**env, **ctx.worker_env, **create_state_table(moto.url, f"{STATE_TABLE}-worker-{i}")}
        run = run_lambda(ctx, "worker", {"Records": records}, run_env, timeout=900, tag=f"worker-{i}")
        catalog = entity_counts(port.state())
        run["ec2_entities"] = catalog.get("ec2Instance", 0)
        run["complete"] = run["ec2_entities"] == len(records) * per_unit
        body = (run["answer"] or {}).get("body") or {}
        run["batch_item_failures"] = len(body.get("batchItemFailures", [])) if isinstance(body, dict) else None
        runs.append(run)
    log("item 3: worker on the same batch with MAX_CONCURRENT_UNITS=1 (memory of one unit at a time)")
    port.reset()
    http_json("POST", f"{port.url}/_fake/seed", {"blueprints": blueprints})
    serial_env = {**env, **ctx.worker_env, **create_state_table(moto.url, f"{STATE_TABLE}-worker-serial"),
                  "MAX_CONCURRENT_UNITS": "1"}
    serial = run_lambda(ctx, "worker", {"Records": records}, serial_env, timeout=900,
                        tag="worker-serial")
    serial["ec2_entities"] = entity_counts(port.state()).get("ec2Instance", 0)
    result["worker_batch_one_unit_at_a_time"] = {k: serial.get(k) for k in ("wall_s", "cpu_s", "max_rss_kib",
                                                                            "ec2_entities")}
    result["worker_batch"] = {"units": len(records), "instances_per_unit": per_unit, "worker_env": ctx.worker_env,
                              **{k: stats([r.get(k) for r in runs]) for k in ("wall_s", "cpu_s", "max_rss_kib")},
                              "all_complete": all(r["complete"] for r in runs),
                              "batch_item_failures": [r["batch_item_failures"] for r in runs]}
    result["worker_runs"] = runs
    port.stop()
    moto.stop()
    ws = result.get("worker_startup", {}).get("ms")
    fs = result.get("fanout_startup", {}).get("ms")
    result["targets"] = {
        "start-up <= 20 ms (median, both)": bool(ws and fs and ws["median"] <= 20 and fs["median"] <= 20),
        "worker peak RSS <= 64 MiB": (result["worker_batch"]["max_rss_kib"] or {}).get("max", 1e12) <= 64 * 1024,
        "binaries <= 20 MiB": all(sizes[n] <= 20 * MIB for n in ("worker", "fanout")),
        "worker batch complete": result["worker_batch"]["all_complete"],
    }
    return result


# ------------------------------------------------------------------------------------------------
# Item 9: a large EC2 Describe page other than instances (security groups): the CLI's peak RSS
# ------------------------------------------------------------------------------------------------
SG_MAPPING = ROOT / "docs/examples/ec2-security-group/ec2-security-group-mappings.yaml"


def item_describe(ctx) -> dict:
    """One account, one region, `security_groups` groups of `security_group_rules` ingress rules each (moto answers
    them in one DescribeSecurityGroups page); `port-aws-sync sync --dry-run` of that kind with the example
    mapping, under /usr/bin/time: the fetch and mapping of one large page, without Port."""
    import boto3  # noqa: E402

    n, rules = ctx.size("security_groups"), ctx.size("security_group_rules")
    moto = Moto(ctx.work, "describe")
    ec2 = boto3.client("ec2", endpoint_url=moto.url, region_name="us-east-1", aws_access_key_id="testing",
                       aws_secret_access_key="testing")
    log(f"item 9: seeding {n:,} security groups of {rules} rules")
    started = time.monotonic()
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    for i in range(n):
        name = f"bench-sg-{i:04d}"
        group = ec2.create_security_group(
            GroupName=name, Description=f"bench security group {i}", VpcId=vpc,
            TagSpecifications=[{"ResourceType": "security-group",
                                "Tags": [{"Key": "Name", "Value": name}, {"Key": "team", "Value": f"t{i % 7}"}]}])
        ec2.authorize_security_group_ingress(GroupId=group["GroupId"], IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 1000 + r, "ToPort": 1000 + r,
             "IpRanges": [{"CidrIp": f"10.{i % 250}.{r}.0/24", "Description": f"bench rule {r} of group {i}"}]}
            for r in range(rules)])
    groups = len(ec2.describe_security_groups()["SecurityGroups"])
    seed_s = time.monotonic() - started
    env = {**aws_env(moto.url), "MAPPING_CONFIG": str(SG_MAPPING), "REGION_POLICY": json.dumps({"allow": ["us-east-1"]})}
    runs = []
    for i in range(ctx.runs("describe")):
        log(f"item 9: sync --dry-run of {groups:,} security groups {i + 1}/{ctx.runs('describe')}")
        out = ctx.work / f"describe-{i}.entities.jsonl"
        cmd = [str(ctx.bin("port-aws-sync")), "sync", "--dry-run", "--output", str(out),
               "--kinds", "AWS::EC2::SecurityGroup"]
        run_env = {**env, "STATE_PATH": str(ctx.work / f"describe-{i}.state.sqlite")}
        run = timed(cmd, run_env, ctx.work, tag=f"describe-{i}")
        if run["exit"] != 0:
            log(f"describe-{i}: exit {run['exit']}\n{tail(run['stderr'])}")
        run["entities"] = len(out.read_text().splitlines()) if out.exists() else 0
        run["complete"] = run["entities"] == groups
        runs.append(run)
    moto.stop()
    return {"groups": groups, "rules_per_group": rules, "seed_s": seed_s,
            **{k: stats([r.get(k) for r in runs]) for k in ("wall_s", "cpu_s", "max_rss_kib")},
            "all_complete": all(r["complete"] for r in runs), "runs": runs}


# ------------------------------------------------------------------------------------------------
# Item 8: live events, our part of the latency (SQS receipt to Port's answer) with a warm worker
# ------------------------------------------------------------------------------------------------
LIVE_SAMPLE = ROOT / "events/live/ec2-create-tags.json"
LIVE_SAMPLE_INSTANCE = "i-0a1b2c3d4e5f67890"


def item_live(ctx) -> dict:
    """One warm worker under the local runtime API; before each invocation the instances' tags change in moto,
    then the matching CloudTrail CreateTags events arrive as one SQS batch. Latency is the time from handing
    the batch to the worker (what SQS receipt is to a real worker) to its answer, which it posts after Port
    answered the upserts."""
    import boto3  # the bench venv has it (tests/requirements.txt)

    if not ctx.bin("worker").exists():
        return {"status": "not built: worker"}
    region, n_instances = "us-east-1", 10
    moto = Moto(ctx.work, "live")
    port = FakePort(ctx.work, "live")
    spec = {"organization": True, "role_name": ROLE, "accounts": [{"key": "mgmt", "management": True}],
            "resources": {"mgmt": {"regions": {region: {"ec2_instances": n_instances, "ec2_names": "live"}}}}}
    seeded = moto.seed(spec)
    mgmt = seeded["accounts"]["mgmt"]["id"]
    env = {**org_env(moto.url, mgmt, [region]), **port.env(), **create_state_table(moto.url)}
    ec2 = boto3.client("ec2", region_name=region, endpoint_url=moto.url, aws_access_key_id="testing",
                       aws_secret_access_key="testing")
    ids = [i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]
    if len(ids) != n_instances:
        raise SystemExit(f"item 8: expected {n_instances} instances in the default account, found {len(ids)}")
    sample = LIVE_SAMPLE.read_text().replace("123456789012", mgmt)
    port.reset(auth_rate_limit=None)
    http_json("POST", f"{port.url}/_fake/seed",
              {"blueprints": json.loads((ROOT / "src/port/default_blueprints.json").read_text())})

    api = RuntimeApi()
    errfile = open(ctx.work / "live-worker.stderr", "wb")
    proc = PROCS.start([str(ctx.bin("worker"))], env={**env, **lambda_env(api, "port-aws-sync-worker", 512)},
                       stdout=errfile, stderr=subprocess.STDOUT)
    counter = [0]

    def invoke(targets: list) -> tuple:
        for instance in targets:
            counter[0] += 1
            ec2.create_tags(Resources=[instance], Tags=[{"Key": "bench", "Value": str(counter[0])}])
        records = [sqs_record(counter[0] * 100 + k, sample.replace(LIVE_SAMPLE_INSTANCE, instance),
                              "port-aws-sync-live-events")
                   for k, instance in enumerate(targets)]
        before = len(port.state().get("requests", []))
        start = time.monotonic()
        api.push({"Records": records})
        answer = api.wait_result(120)
        elapsed = (time.monotonic() - start) * 1000
        if answer is None:
            raise SystemExit(f"item 8: no answer from the worker\n{tail(errfile.name)}")
        failures = (answer[2] or {}).get("batchItemFailures", []) if isinstance(answer[2], dict) else None
        upserts = sum(1 for r in port.state().get("requests", [])[before:] if "/bulk" in r.get("path", ""))
        return elapsed, failures, upserts

    load = loadavg()
    invoke(ids[:1])  # warm-up: token, integration, mapping, first AssumeRole (not counted)
    singles, bursts, problems = [], [], []
    for i in range(ctx.size("live_singles")):
        ms, failures, upserts = invoke([ids[i % n_instances]])
        singles.append(ms)
        if failures or upserts != 1:
            problems.append({"single": i, "failures": failures, "bulk_upserts": upserts})
    for i in range(ctx.size("live_bursts")):
        ms, failures, upserts = invoke(ids)
        bursts.append(ms)
        if failures or upserts != 1:
            problems.append({"burst": i, "failures": failures, "bulk_upserts": upserts})
    rss = peak_rss_kib(proc.pid)
    PROCS.stop(proc)
    api.close()
    port.stop()
    moto.stop()

    def pct(values: list, p: float) -> float | None:
        return sorted(values)[min(len(values) - 1, int(round(p * (len(values) - 1))))] if values else None

    result = {"load_before": load, "load_after": loadavg(), "worker_max_rss_kib": rss, "problems": problems,
              "single_ms": {**(stats(singles) or {}), "p99": pct(singles, 0.99), "n": len(singles)},
              "burst_of_10_ms": {**(stats(bursts) or {}), "p99": pct(bursts, 0.99), "n": len(bursts)}}
    result["targets"] = {"median <= 300 ms (single event, warm worker)":
                         bool(singles and result["single_ms"]["median"] <= 300),
                         "one bulk upsert per batch, no failure": not problems}
    return result


# ------------------------------------------------------------------------------------------------
# Machine, table, main
# ------------------------------------------------------------------------------------------------
def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
               if line.startswith("MemTotal:"))

    def version(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True).stdout.strip().splitlines()[0]
        except (OSError, IndexError):
            return None

    return {"cores": os.cpu_count(), "cpu": cpu, "ram_gib": round(mem / 1024 / 1024, 1),
            "kernel": platform.release(), "python": platform.python_version(), "rustc": version(["rustc", "-V"]),
            "jq": version(["jq", "--version"]), "hyperfine": version(["hyperfine", "--version"]),
            "git_commit": version(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]),
            "loadavg_start": Path("/proc/loadavg").read_text().split()[:3]}


def fmt(s: dict | None, scale: float = 1.0, digits: int = 2, unit: str = "") -> str:
    if not s:
        return "n/a"
    f = lambda v: f"{v * scale:,.{digits}f}"  # noqa: E731
    if s["n"] == 1:
        return f"{f(s['median'])}{unit}"
    return f"{f(s['median'])}{unit} ({f(s['min'])}–{f(s['max'])})"


def yes(flag) -> str:
    return "met" if flag else "MISSED"


def table(results: dict) -> list:
    rows = []  # (item, metric, value, target)
    r1 = results.get("1_mapping")
    if r1:
        for name, t in r1["tools"].items():
            rows.append(("1 mapping", f"{name}: entities/s (one core)", fmt(t["entities_per_s"], digits=0), ""))
        rows.append(("1 mapping", "speed-up vs Python jq (Ocean way)", f"{r1['speedup_vs_python_jq']:.1f}×",
                     f"≥ 10× {yes(r1['targets']['>= 10x Python jq'])}"))
        rows.append(("1 mapping", "speed-up vs jq CLI", f"{r1['speedup_vs_jq_cli']:.1f}×",
                     f"≥ 2× {yes(r1['targets']['>= 2x jq CLI'])}"))
        rows.append(("1 mapping", "port-aws-sync map peak RSS",
                     f"{r1['tools']['port-aws-sync map']['max_rss_kib'] / 1024:,.0f} MiB", "(input text held; objects streamed)"))
    r2 = results.get("2_sync")
    if r2:
        s, d, t = r2["sync"], r2["dry_run"], r2["targets"]
        rows += [
            ("2 sync", "wall time", fmt(s["wall_s"], unit=" s"), ""),
            ("2 sync", "our CPU (user+sys)", fmt(s["cpu_s"], unit=" s"),
             f"{r2['cpu_share_of_wall']:.0%} of wall: {yes(t['CPU a small fraction of wall (< 25%)'])}"),
            ("2 sync", "moto CPU during the sync", fmt(s["moto_cpu_s"], unit=" s"),
             f"{r2['moto_cpu_vs_ours']:.0f}× ours" if r2["moto_cpu_vs_ours"] else ""),
            ("2 sync", "peak RSS", fmt(s["max_rss_kib"], 1 / 1024, 1, " MiB"),
             f"≤ 64 MiB {yes(t['peak RSS <= 64 MiB'])}"),
            ("2 sync", "Port requests per upserted entity",
             f"{r2['port']['requests_per_entity']:.4f} ({r2['port']['requests_total']}/{r2['entities_upserted']})",
             f"≤ 0.06 {yes(t['Port requests per upserted entity <= 0.06'])}"),
            ("2 sync", "  of which bulk upserts per entity", f"{r2['port']['bulk_upsert_requests_per_entity']:.4f}",
             "(Port's bulk limit is 20/request: floor 0.05)"),
            ("2 sync", "request body bytes per entity",
             f"{r2['port']['request_body_bytes_per_entity']:,.0f} B" if r2['port']['request_body_bytes_per_entity']
             else "n/a", ""),
            ("2 sync", "AWS calls (all, incl. discovery)",
             f"{r2['aws']['calls_total']} ({r2['aws']['calls_per_entity']:.3f}/entity)", "see calls_by_operation"),
            ("2 sync", "every entity arrived", "yes" if t["every entity arrived"] else "NO", ""),
            ("2 sync --dry-run", "wall time", fmt(d["wall_s"], unit=" s"), ""),
            ("2 sync --dry-run", "our CPU / peak RSS",
             f"{fmt(d['cpu_s'], unit=' s')} / {fmt(d['max_rss_kib'], 1 / 1024, 1, ' MiB')}", ""),
        ]
    r3 = results.get("3_lambda")
    if r3:
        if "status" in r3:
            rows.append(("3 lambda", "worker / fanout", r3["status"], "start-up ≤ 20 ms, RSS ≤ 64 MiB, ≤ 20 MiB"))
            rows.append(("3 lambda", "port-aws-sync binary size",
                         f"{r3['binary_mib']['port-aws-sync']:.1f} MiB" if r3["binary_mib"]["port-aws-sync"] else "n/a",
                         "(for reference)"))
        else:
            t = r3["targets"]
            rows += [
                ("3 lambda", "worker start-up to first runtime-API request", fmt(r3["worker_startup"]["ms"], unit=" ms"),
                 ""),
                ("3 lambda", "fanout start-up to first runtime-API request", fmt(r3["fanout_startup"]["ms"], unit=" ms"),
                 f"≤ 20 ms {yes(t['start-up <= 20 ms (median, both)'])}"),
                ("3 lambda", "  of which Port token + integration (fake Port)",
                 fmt(r3["fake_port_init_round_trips_ms"], unit=" ms"), "measured apart, same calls"),
                ("3 lambda", "binary sizes worker / fanout",
                 f"{r3['binary_mib']['worker']:.1f} / {r3['binary_mib']['fanout']:.1f} MiB",
                 f"≤ 20 MiB {yes(t['binaries <= 20 MiB'])}"),
                ("3 lambda", f"worker peak RSS, {r3['worker_batch']['units']} units × "
                             f"{r3['worker_batch']['instances_per_unit']:,} instances",
                 fmt(r3["worker_batch"]["max_rss_kib"], 1 / 1024, 1, " MiB"),
                 f"≤ 64 MiB {yes(t['worker peak RSS <= 64 MiB'])}"),
                ("3 lambda", "worker batch wall time", fmt(r3["worker_batch"]["wall_s"], unit=" s"),
                 "complete" if t["worker batch complete"] else "INCOMPLETE"),
                ("3 lambda", "worker peak RSS, same batch, MAX_CONCURRENT_UNITS=1",
                 f"{r3['worker_batch_one_unit_at_a_time']['max_rss_kib'] / 1024:.1f} MiB"
                 if r3.get("worker_batch_one_unit_at_a_time", {}).get("max_rss_kib") else "n/a",
                 f"wall {r3['worker_batch_one_unit_at_a_time']['wall_s']:.1f} s"
                 if r3.get("worker_batch_one_unit_at_a_time") else ""),
            ]
    r4 = results.get("4_fanout")
    if r4:
        p = r4["plan"]
        rows += [
            ("4 fan-out", f"plan: {r4['accounts']:,} accounts → {p['units']:,} units", fmt(p["wall_s"], unit=" s"),
             "well under 60 s (≤ 30 s) " + yes(p["wall_s"]["median"] <= 30)),
            ("4 fan-out", "plan: AWS calls", f"{p['aws_calls_total']:,}", f"{p['regions_per_account']} regions/account"),
            ("4 fan-out", "plan: CPU / peak RSS",
             f"{fmt(p['cpu_s'], unit=' s')} / {fmt(p['max_rss_kib'], 1 / 1024, 1, ' MiB')}", ""),
        ]
        f = r4["fanout"]
        if f.get("status"):
            rows.append(("4 fan-out", "enqueue (fanout binary)", f["status"],
                         f"{p['sqs_batches_needed']:,} SendMessageBatch calls needed"))
        else:
            rows += [
                ("4 fan-out", "fanout: plan + enqueue wall time", fmt(f["wall_s"], unit=" s"),
                 "well under 60 s (≤ 30 s) " +
                 yes(r4["targets"]["fan-out well under 60 s against the emulator (<= 30 s)"])),
                ("4 fan-out", "fanout: SQS batches / messages",
                 f"{f['sqs_send_message_batch_calls']:,} / {f['messages_enqueued']:,}",
                 "all units " + yes(r4["targets"]["every unit enqueued"])),
                ("4 fan-out", "fanout: AWS calls / peak RSS",
                 f"{f['aws_calls_total']:,} / {fmt(f['max_rss_kib'], 1 / 1024, 1, ' MiB')}", ""),
            ]
    r5 = results.get("5_throttling")
    if r5:
        rows += [
            ("5 throttling", "clean sync via proxy", fmt(r5["clean"]["wall_s"], unit=" s"), ""),
            ("5 throttling", "20% Port 429 + one account's EC2 throttled", fmt(r5["throttled"]["wall_s"], unit=" s"),
             f"slowdown {r5['slowdown']:.2f}×"),
            ("5 throttling", "Port 429s / client retries / EC2 throttled",
             f"{fmt(r5['port_429s'], digits=0)} / {fmt(r5['port_retries'], digits=0)} / "
             f"{fmt(r5['ec2_throttled_calls'], digits=0)}", ""),
            ("5 throttling", "every entity still arrived",
             "yes" if r5["targets"]["every entity still arrives"] else "NO",
             yes(r5["targets"]["every entity still arrives"])),
        ]
    r6 = results.get("6_state")
    if r6:
        t = r6["targets"]
        for name, label, target in (
                ("fresh", "fresh sync", f"≤ 0.055 {yes(t['fresh sync <= 0.055 Port requests per entity'])}"),
                ("unchanged", "unchanged resync",
                 f"0 upserts, ≤ 0.01 {yes(t['unchanged resync: 0 upserts'] and t['unchanged resync <= 0.01 Port requests per entity'])}"),
                ("changed", f"after changing {r6['changed_resources'][-1]} instances",
                 f"≈ 1% {yes(t['1% changed: writes about that 1%'])}")):
            r = r6[name]
            rows.append(("6 state", f"{label}: Port requests per entity / entities upserted",
                         f"{fmt(r['requests_per_entity'], digits=4)} / {fmt(r['entities_upserted'], digits=0)}", target))
    r7 = results.get("7_scale")
    if r7:
        f, t = r7["fanout"], r7["targets"]
        rows += [
            ("7 scale", f"{r7['accounts']:,} accounts × {r7['regions']} regions × {r7['kinds']} kinds: units",
             f"{r7['units']:,}", f"{f['sqs_batches']:,} SQS batches"),
            ("7 scale", "fanout: plan + enqueue wall time", fmt(f["wall_s"], unit=" s"),
             f"≤ 30 s {yes(t['plan + enqueue <= 30 s'])}"),
            ("7 scale", "fanout: peak RSS", fmt(f["max_rss_kib"], 1 / 1024, 1, " MiB"),
             f"≤ 128 MiB {yes(t['fan-out peak RSS <= 128 MiB'])}"),
            ("7 scale", "Port requests other than bulk upserts per full sync (extrapolated)",
             f"{r7['extrapolated']['full_sync_again']:,.0f}",
             f"≤ 1,000 {yes(t['Port requests other than bulk upserts <= 1,000 per full sync (again)'])}"),
        ]
    r8 = results.get("8_live")
    if r8 and "single_ms" in r8:
        single, burst = r8["single_ms"], r8["burst_of_10_ms"]
        rows += [
            ("8 live", "one event: SQS batch to worker answer (warm)", fmt(single, digits=0, unit=" ms"),
             f"≤ 300 ms {yes(r8['targets']['median <= 300 ms (single event, warm worker)'])}"),
            ("8 live", "  p99", f"{single['p99']:,.0f} ms" if single.get("p99") is not None else "n/a", ""),
            ("8 live", "batch of 10 events, 10 instances", fmt(burst, digits=0, unit=" ms"),
             f"p99 {burst['p99']:,.0f} ms" if burst.get("p99") is not None else ""),
            ("8 live", "one bulk upsert per batch, no failure", yes(r8["targets"]["one bulk upsert per batch, no failure"]),
             ""),
        ]
    r9 = results.get("9_describe")
    if r9:
        what = f"{r9['groups']:,} security groups × {r9['rules_per_group']} rules, one page"
        rows += [
            ("9 describe", f"CLI peak RSS, sync --dry-run, {what}", fmt(r9["max_rss_kib"], 1 / 1024, 1, " MiB"),
             f"all entities: {yes(r9['all_complete'])}"),
            ("9 describe", "  wall time / our CPU", f"{fmt(r9['wall_s'], unit=' s')} / {fmt(r9['cpu_s'], unit=' s')}",
             ""),
        ]
    return rows


def print_table(rows: list) -> str:
    widths = [max(len(r[i]) for r in rows + [("Item", "Metric", "Median (min–max)", "Target")]) for i in range(4)]
    lines = []
    header = ("Item", "Metric", "Median (min–max)", "Target")
    lines.append("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")
    return "\n".join(lines)


class Ctx:
    def __init__(self, args):
        self.quick = args.quick
        self.bin_dir = Path(args.bin_dir)
        self.runs_override = args.runs
        self.accounts = args.accounts
        self.cache = Path(args.cache)
        self.work = Path(tempfile.mkdtemp(prefix="port-aws-sync-bench."))
        self.map_tools = {t.strip() for t in (args.map_tools or "").split(",") if t.strip()}
        self.startup_only = args.lambda_startup_only
        self.worker_only = args.lambda_worker_only
        self.worker_env = dict(kv.split("=", 1) for kv in args.worker_env)

    def size(self, name: str) -> int:
        if name == "org_accounts" and self.accounts:
            return self.accounts
        return SIZES[name][1 if self.quick else 0]

    def runs(self, name: str) -> int:
        return self.runs_override or RUNS[name][1 if self.quick else 0]

    def bin(self, name: str) -> Path:
        return self.bin_dir / name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin-dir", required=True, help="directory of the release binaries")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one run each (CI smoke)")
    parser.add_argument("--only", default="1,2,3,4,5,6,7,8,9", help="comma list of items to run")
    parser.add_argument("--accounts", type=int, help="organization size of items 4 and 7 (default 1,000)")
    parser.add_argument("--runs", type=int, help="repetitions of every measurement (default: per item)")
    parser.add_argument("--output", help="results JSON (default bench/results.json, or bench/results-quick.json)")
    parser.add_argument("--cache", default=os.path.expanduser("~/.cache/port-aws-sync/bench"),
                        help="where generated inputs are kept between runs")
    parser.add_argument("--map-tools", help="item 1: comma list of the other tools to run ('jq CLI', "
                        "'Python jq (Ocean)'; default both)")
    parser.add_argument("--lambda-startup-only", action="store_true",
                        help="item 3: binary sizes and start-ups only, not the worker batch")
    parser.add_argument("--lambda-worker-only", action="store_true",
                        help="item 3: binary sizes and the worker batch only (worker memory, F4), no start-ups")
    parser.add_argument("--worker-env", action="append", default=[], metavar="KEY=VALUE",
                        help="item 3: a setting of the worker batch runs, e.g. MAX_PAGES_IN_FLIGHT=1 (repeatable)")
    args = parser.parse_args()
    ctx = Ctx(args)
    only = {int(x) for x in args.only.split(",") if x.strip()}
    output = Path(args.output) if args.output else ROOT / ("bench/results-quick.json" if args.quick
                                                           else "bench/results.json")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if not ctx.bin("port-aws-sync").exists():
        raise SystemExit(f"{ctx.bin('port-aws-sync')} is missing: build with `cargo build --release --bins`")

    started = time.time()
    results: dict = {"machine": machine(), "quick": ctx.quick, "sizes": {k: ctx.size(k) for k in SIZES},
                     "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)), "work_dir": str(ctx.work)}
    log(f"work dir {ctx.work}; load average {results['machine']['loadavg_start']}")
    if 1 in only:
        results["1_mapping"] = item_mapping(ctx)
    if only & {2, 5, 6}:
        estate = Estate(ctx)
        if 2 in only:
            results["2_sync"] = item_sync(ctx, estate)
        if 5 in only:
            results["5_throttling"] = item_throttling(ctx, estate)
        if 6 in only:  # last: it changes the estate
            results["6_state"] = item_state(ctx, estate, warm=bool(only & {2, 5}))
        estate.stop()
    if 4 in only:
        results["4_fanout"] = item_fanout(ctx)
    if 3 in only:
        results["3_lambda"] = item_lambda(ctx)
    if 7 in only:
        results["7_scale"] = item_scale(ctx)
    if 8 in only:
        results["8_live"] = item_live(ctx)
    if 9 in only:
        results["9_describe"] = item_describe(ctx)
    results["duration_s"] = time.time() - started
    results["machine"]["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    try:
        rows = table(results)
    except KeyError as missing:  # --map-tools / --lambda-startup-only: a partial item; see the JSON
        log(f"no table for a partial run (missing {missing}); the figures are in the results JSON")
        rows = []
    results["table"] = [dict(zip(("item", "metric", "value", "target"), r)) for r in rows]
    output.write_text(json.dumps(results, indent=2, default=str) + "\n")
    text = print_table(rows)
    print(text)
    print(f"\n{len(rows)} rows; results in {output}; took {results['duration_s']:.0f} s; load average "
          f"{' '.join(results['machine']['loadavg_start'])} -> {' '.join(results['machine']['loadavg_end'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
