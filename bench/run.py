#!/usr/bin/env python3
"""make bench: the todo component against its floor, its physical limit and the seed's
published Native AOT figures, side by side in one run on one machine.

Measured here, for each of
  floor-wasi      the smallest wasi:http handler (direct bindings, no SDK) under wasmtime serve,
                  linked like the todo component (128 KiB stack)
  floor-spin-sdk  an empty spin-sdk #[http_component] under wasmtime serve, linked alike
  floor-wasi-1mib-stack-pooled
                  floor-wasi with Rust's default 1 MiB stack (pooled flags): the floor as a
                  default build gives it
  todo            the portable todo component under wasmtime serve (directory store)
  todo-aot        the same, precompiled (wasmtime compile, --allow-precompiled)
  native          the same core and directory store natively behind hyper (no isolation)
  *-pooled        floor-wasi and todo again, with wasmtime's pooling allocator keeping 4 MiB
                  of each linear memory resident between instances (POOLED flags)
and, where the Spin builds really run, under real `spin up` (Spin 4.0.2's own CLI, $SPIN,
its defaults, SQLite in its state directory), and again under the Spin-faithful host
(tests/spin-host, suffix @spin-host), which must cost what Spin costs:
  todo-spin       the Spin build of the todo component
  peer-spin-sqlite
                  a hand-written spin-sdk SQLite todo read (bench/peer-spin-sqlite)
  floor-spin-sdk-spin
                  the empty spin-sdk component
  todo-spin-before
                  with BENCH_SPIN_BEFORE=PATH.wasm, an earlier Spin build, in the same rounds
- p50/p99 of sequential requests on one kept-alive connection (/healthz, a todo, a page of
  100, /openapi.json) for todo-pooled (wasmtime serve) and todo-spin, and throughput at 8
  connections; the Spin build against the peer in alternating rounds;
- throughput and latency (p50, p99) with wrk at 1, 8 and 64 connections, for
  GET /todos/{id}, GET /todos (a page of 100) and POST /todos (floors: one GET);
- time from process start to the first successful response (median of several starts);
- resident memory of the host process, idle and at peak under load;
- artifact sizes;
- how GET /todos (first page) and GET /todos/{id} grow with 100, 10,000 and 100,000
  stored todos, for the directory store under the component and SQLite natively.

Writes bench/results/results.json, results.md and chart.svg. Ratios are the headline:
absolute times move from machine to machine. BENCH_QUICK=1: a smoke run of seconds.
BENCH_ONLY=hosts: measure only the "where it really runs" section again, into the last results;
BENCH_ONLY=scaling: only the sections by number of stored todos.
BENCH_ONLY=codings: only the sections on compressed and revalidated answers.
BENCH_ONLY=limiter: only the rate limiter's cost.
BENCH_ONLY=owners: only owner mode's costs.
BENCH_ONLY=page: only the page's cost (its bytes, GET /todos/{id} with and without it).

Usage: bench/run.py WASMTIME NATIVE_SERVER   (make bench builds everything first;
the native server is bench/native-server, the floors bench/floor-*)
"""

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
QUICK = os.environ.get("BENCH_QUICK") == "1"
DURATION = 1 if QUICK else 4
CONNECTIONS = [8] if QUICK else [1, 8, 64]
STARTS = 3 if QUICK else 10
SIZES = [100, 1000] if QUICK else [100, 10_000, 100_000]
PAGE = 100

WASM = {
    "floor-wasi": ROOT / "target/bench/wasm32-wasip2/release/floor_wasi.wasm",
    "floor-spin-sdk": ROOT / "target/bench/wasm32-wasip2/release/floor_spin_sdk.wasm",
    "floor-wasi-1mib-stack": ROOT / "target/bench/1mib-stack/wasm32-wasip2/release/floor_wasi.wasm",
    "todo": ROOT / "target/portable/wasm32-wasip2/release/todo_api.wasm",
}

# Real Spin (make bench passes the CLI it unpacks, see the Makefile), the Spin-faithful host
# (built by make bench-build with the `host` profile), and the manifests they serve for each
# Spin kind (source: None takes the manifest's own).
SPIN = os.environ.get("SPIN", "spin")
SPIN_HOST = ROOT / "target/bench/host/spin-host"
SPIN_APPS = {
    "todo-spin": (ROOT / "spin.toml", ROOT / "target/spin/wasm32-wasip2/release/todo_api.wasm"),
    "peer-spin-sqlite": (ROOT / "bench/peer-spin-sqlite/spin.toml", None),
    "floor-spin-sdk-spin": (ROOT / "bench/floor-spin-sdk/spin.toml", None),
}
# The three builds without the page (`--no-default-features`, make bench-build), beside the
# builds with it: the baseline of the page's cost. `api-only` serves as the portable kind.
API_ONLY = ROOT / "target/bench/api-only"
PAGE_BUILDS = {
    "portable": (WASM["todo"], API_ONLY / "portable.wasm"),
    "Spin": (SPIN_APPS["todo-spin"][1], API_ONLY / "spin.wasm"),
    "Spin on PostgreSQL": (ROOT / "target/spin-postgres/wasm32-wasip2/release/todo_api.wasm",
                           API_ONLY / "spin-postgres.wasm"),
}
SPIN_APPS["api-only-spin"] = (ROOT / "spin.toml", API_ONLY / "spin.wasm")
SPIN_BEFORE = os.environ.get("BENCH_SPIN_BEFORE")
if SPIN_BEFORE:
    SPIN_APPS["todo-spin-before"] = (ROOT / "spin.toml", Path(SPIN_BEFORE))
FAITHFUL = "@spin-host"

# The seed's published figures (its README), not measured here.
PUBLISHED = {
    "Native AOT": {"start_ms": 25, "memory_mb": 42, "image_mb": 22},
    "JIT": {"start_ms": 350, "memory_mb": 120, "image_mb": 210},
}


# wasmtime flags for the *-pooled runs: make serve's own (`make serve-options`, but for the
# `-S cli` every run passes): reuse instance slots, reset the start of a linear memory
# (4 MiB, more than the todo component touches) with memset instead of returning it to the
# kernel, which costs TLB shootdowns across cores, and the pool's capacity.
def make_serve_options():
    options = subprocess.run(["make", "-s", "--no-print-directory", "serve-options"], cwd=ROOT,
                             check=True, capture_output=True, text=True).stdout.split()
    start = options.index("-S")
    return options[:start] + options[start + 2:]


POOLED = make_serve_options()
KINDS = ["floor-wasi", "floor-spin-sdk", "todo", "todo-aot", "native", "floor-wasi-pooled", "todo-pooled",
         "floor-wasi-1mib-stack-pooled"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=5.0, headers=None):
    """Status and content of GET url; an error status too (urllib raises on them)."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def post_json(url, body):
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


class Server:
    """One server process on a free port; `started` is when the process was spawned."""

    def __init__(self, kind, wasmtime, native, data, settings=None):
        """`settings`: the API's settings by name (`rate_limit`), passed as each host takes
        them: `--env TODO_*` to wasmtime serve, `SPIN_VARIABLE_*` to spin up."""
        settings = settings or {}
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        address = f"127.0.0.1:{self.port}"
        if kind == "native":
            # A PostgreSQL URL as it is, else a data directory.
            backend = str(data) if str(data).startswith("postgres") else f"dir:{data}"
            command = [native, address, backend]
        elif kind.removesuffix(FAITHFUL) in SPIN_APPS and kind.endswith(FAITHFUL):
            manifest, source = SPIN_APPS[kind.removesuffix(FAITHFUL)]
            command = [str(SPIN_HOST), "--listen", address, "--manifest", str(manifest),
                       "--sqlite-file", str(Path(data) / "sqlite_db.db"),
                       "--log-dir", str(Path(data) / "logs")]
            if source:
                command += ["--source", str(source)]
        elif kind in SPIN_APPS:
            # spin up as a user runs it, with its defaults: state (the SQLite file `default`,
            # the component logs) in the server's own directory.
            manifest, source = SPIN_APPS[kind]
            if source and source != ROOT / "target/spin/wasm32-wasip2/release/todo_api.wasm":
                text = manifest.read_text().replace(
                    'source = "target/spin/wasm32-wasip2/release/todo_api.wasm"', f'source = "{source}"')
                manifest = Path(data) / "spin.toml"
                manifest.write_text(text)
            command = [SPIN, "up", "-f", str(manifest), "--listen", address, "--state-dir", str(data)]
        else:
            pooled = kind.endswith("-pooled")
            kind = kind.removesuffix("-pooled")
            wasm = API_ONLY / "portable.wasm" if kind == "api-only" else \
                WASM["todo" if kind.startswith("todo") else kind]
            command = [wasmtime, "serve", "-S", "cli", "--addr", address] + (POOLED if pooled else [])
            # The floors too: wasmtime serve opens a granted directory for every request,
            # whether the component reads it or not, so the same flags for all.
            command += ["--dir", f"{data}::/data"]
            if kind == "todo-aot":
                command += ["--allow-precompiled"]
                wasm = wasm.with_suffix(".cwasm")
            for name, value in settings.items():
                command += ["--env", f"TODO_{name.upper()}={value}"]
            command.append(str(wasm))
        # With RUST_BACKTRACE set, wasmtime captures a backtrace for errors it handles on
        # every request (a few percent of its time): servers run as deployed, without it.
        env = {k: v for k, v in os.environ.items() if k not in ("RUST_BACKTRACE", "RUST_LIB_BACKTRACE")}
        env.update({f"SPIN_VARIABLE_{name.upper()}": value for name, value in settings.items()})
        env.update({f"TODO_{name.upper()}": value for name, value in settings.items()})
        self.started = time.perf_counter()
        # A group of its own: spin up runs its HTTP trigger as a child process.
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
            start_new_session=True,
        )

    def wait_ready(self, path="/healthz", limit=30.0):
        """Seconds from spawn to the first 200."""
        deadline = self.started + limit
        while time.perf_counter() < deadline:
            try:
                if get(self.base + path, timeout=1)[0] == 200:
                    return time.perf_counter() - self.started
            except OSError:
                time.sleep(0.0005)
        raise RuntimeError(f"{self.base} did not answer")

    def rss_kb(self, field="VmRSS"):
        """Resident memory of the host's processes (spin up and its trigger; wasmtime is one)."""
        total, pids = 0, [self.process.pid]
        while pids:
            pid = pids.pop()
            status = Path(f"/proc/{pid}/status").read_text()
            total += int(re.search(rf"{field}:\s+(\d+) kB", status).group(1))
            for task in Path(f"/proc/{pid}/task").iterdir():
                pids += [int(child) for child in (task / "children").read_text().split()]
        return total

    def stop(self):
        try:
            os.killpg(self.process.pid, 9)
        except ProcessLookupError:
            pass
        self.process.wait()


POST_LUA = """
wrk.method = "POST"
wrk.body = '{"title":"Walk the dog","dueBy":"2026-12-24"}'
wrk.headers["Content-Type"] = "application/json"
"""


def wrk(url, connections, duration, script=None, headers=()):
    """Requests per second and p50/p99 latency in ms."""
    command = ["wrk", f"-t{min(connections, 2)}", f"-c{connections}", f"-d{duration}s", "--latency"]
    if script:
        command += ["-s", script]
    for header in headers:
        command += ["-H", header]
    output = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout

    def latency(percentile):
        match = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s)\b", output, re.M)
        value, unit = float(match.group(1)), match.group(2)
        return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} failed responses\n{output}")
    return {"rps": rate, "p50_ms": latency(50), "p99_ms": latency(99)}


# Seeds stores through their own code (bench/native-server/src/bin/seed.rs, built by make
# bench-build beside the native server).
SEED = ROOT / "target/bench/release/seed"


def seed(kind, path, count):
    subprocess.run([str(SEED), kind, str(path), str(count)], check=True)


def seed_dir_store(data, count):
    """`count` todos in a data directory, as the directory store's own writes leave them."""
    seed("dir", data, count)


def seed_sqlite(path, count):
    """`count` todos in a SQLite file, through the SQL store (its schema, its statements)."""
    seed("sqlite", path, count)


def sizes(native):
    result = {name: path.stat().st_size for name, path in WASM.items() if "1mib" not in name}
    result["todo-aot"] = WASM["todo"].with_suffix(".cwasm").stat().st_size
    result["native"] = Path(native).stat().st_size
    result["todo-spin"] = SPIN_APPS["todo-spin"][1].stat().st_size
    result["peer-spin-sqlite"] = (ROOT / "target/bench/wasm32-wasip2/release/peer_spin_sqlite.wasm").stat().st_size
    return result


def throughput(wasmtime, native, work):
    """wrk against every server; floors answer one GET."""
    post_script = work / "post.lua"
    post_script.write_text(POST_LUA)
    results = {}
    for kind in KINDS:
        data = work / f"throughput-{kind}"
        data.mkdir()
        seed_dir_store(data, PAGE)
        server = Server(kind, wasmtime, native, data)
        path = "/todos/1" if kind.startswith("floor") else "/healthz"
        server.wait_ready(path)
        time.sleep(0.2)
        entry = {"rss_idle_kb": server.rss_kb()}
        endpoints = [("get", "/todos/1", None)]
        if not kind.startswith("floor") and not kind.endswith("-pooled"):
            endpoints += [("list", "/todos", None), ("create", "/todos", str(post_script))]
        for endpoint, path, script in endpoints:
            for connections in CONNECTIONS:
                measured = wrk(server.base + path, connections, DURATION, script)
                entry[f"{endpoint}@{connections}"] = measured
                print(f"  {kind:15} {endpoint:6} c={connections:<3} {measured['rps']:9.0f} req/s "
                      f"p50 {measured['p50_ms']:.3f} ms p99 {measured['p99_ms']:.3f} ms", flush=True)
        entry["rss_peak_kb"] = server.rss_kb("VmHWM")
        server.stop()
        results[kind] = entry
    return results


HEADLINE_KINDS = ["floor-wasi-pooled", "todo-pooled", "floor-wasi-1mib-stack-pooled", "floor-wasi", "todo"]
HEADLINE_ROUNDS = 1 if QUICK else 5


def headline(wasmtime, native, work):
    """GET /todos/{id} (floors: GET) at 8 connections for the headline ratios: the servers
    in turn, HEADLINE_ROUNDS times, so that drift on the machine hits all of them alike;
    the median round of each. (One wrk run moves by 10-15% from run to run here.)"""
    runs = {kind: [] for kind in HEADLINE_KINDS}
    for round_ in range(HEADLINE_ROUNDS):
        for kind in HEADLINE_KINDS:
            data = work / f"headline-{kind}-{round_}"
            data.mkdir()
            seed_dir_store(data, PAGE)
            server = Server(kind, wasmtime, native, data)
            server.wait_ready("/todos/1" if kind.startswith("floor") else "/healthz")
            runs[kind].append(wrk(server.base + "/todos/1", 8, DURATION))
            server.stop()
    results = {}
    for kind, measured in runs.items():
        median_run = sorted(measured, key=lambda m: m["rps"])[len(measured) // 2]
        results[kind] = {"rps": median_run["rps"],
                         "p50_ms": statistics.median(m["p50_ms"] for m in measured),
                         "rounds_rps": [m["rps"] for m in measured]}
        print(f"  {kind:30} median {results[kind]['rps']:9.0f} req/s, p50 {results[kind]['p50_ms']:.3f} ms "
              f"(rounds: {', '.join(f'{m:.0f}' for m in results[kind]['rounds_rps'])})", flush=True)
    return results


# Where the builds really run: what each server is asked on one connection, in order.
HOST_PATHS = {
    "todo-pooled": ["/healthz", "/todos/1", "/todos", "/openapi.json"],
    "todo-spin": ["/healthz", "/todos/1", "/todos", "/openapi.json"],
    "todo-spin" + FAITHFUL: ["/healthz", "/todos/1", "/todos", "/openapi.json"],
}
# Alternating rounds, each server asked these at 8 connections (and the first at 1): the
# Spin build beside the peer and the empty component, under real Spin and under the
# Spin-faithful host, which must show the same costs.
ROUND_PATHS = {
    "todo-spin": ["/todos/1", "/healthz"],
    "peer-spin-sqlite": ["/todos/1"],
    "floor-spin-sdk-spin": ["/"],
    "todo-spin" + FAITHFUL: ["/todos/1", "/healthz"],
    "peer-spin-sqlite" + FAITHFUL: ["/todos/1"],
    "floor-spin-sdk-spin" + FAITHFUL: ["/"],
}
if SPIN_BEFORE:
    ROUND_PATHS["todo-spin-before"] = ["/todos/1", "/healthz"]
HOST_ROUNDS = 1 if QUICK else 5
HOST_TAIL_RUNS = 1 if QUICK else 3


def spin_seed(wasmtime, native, work, name="spin-seed"):
    """A SQLite file of PAGE todos (in `work / name`), seeded through the SQL store and then
    opened once by the Spin build itself (its first list), so that every Spin kind reads
    the same database, as components of one `spin up` share `default`."""
    data = work / name
    data.mkdir()
    seed_sqlite(data / "sqlite_db.db", PAGE)
    server = Server("todo-spin", wasmtime, native, data)
    server.wait_ready("/todos")
    server.stop()
    return data / "sqlite_db.db"


def seed_for(kind, data, spin_database):
    """PAGE todos in the store `kind` reads: the Spin kinds' SQLite file, else a directory."""
    if kind.removesuffix(FAITHFUL) in SPIN_APPS:
        shutil.copy(spin_database, Path(data) / "sqlite_db.db")
    else:
        seed_dir_store(data, PAGE)


def hosts(wasmtime, native, work):
    """Sequential requests on one kept-alive connection (p50, p99), where a response
    held behind a delayed ACK shows as a p99 of ~40 ms, and throughput at 8 connections;
    then the Spin build and the hand-written peer in alternating rounds."""
    results = {"servers": {}, "rounds": {}}
    spin_database = spin_seed(wasmtime, native, work)
    for kind, paths in HOST_PATHS.items():
        data = work / f"hosts-{kind}"
        data.mkdir()
        seed_for(kind, data, spin_database)
        server = Server(kind, wasmtime, native, data)
        server.wait_ready(paths[0])
        entry = {"one_connection": {}}
        for path in paths:
            # One 4-second run's p99 is a few dozen requests: the run with the median p99
            # of HOST_TAIL_RUNS, so that one scheduling hiccup on the machine is not the tail.
            runs = sorted((wrk(server.base + path, 1, DURATION) for _ in range(HOST_TAIL_RUNS)),
                          key=lambda m: m["p99_ms"])
            measured = runs[len(runs) // 2]
            entry["one_connection"][path] = measured
            print(f"  {kind:20} {path:14} c=1 {measured['rps']:8.0f} req/s p50 {measured['p50_ms']:.3f} ms "
                  f"p99 {measured['p99_ms']:.3f} ms", flush=True)
        loaded = paths[1] if len(paths) > 1 else paths[0]
        entry["throughput_8"] = {"path": loaded, **wrk(server.base + loaded, 8, DURATION)}
        print(f"  {kind:20} {loaded:14} c=8 {entry['throughput_8']['rps']:8.0f} req/s", flush=True)
        entry["rss_peak_kb"] = server.rss_kb("VmHWM")
        server.stop()
        results["servers"][kind] = entry
    for round_ in range(HOST_ROUNDS):
        for kind, paths in ROUND_PATHS.items():
            data = work / f"hosts-round-{kind}-{round_}"
            data.mkdir()
            seed_for(kind, data, spin_database)
            server = Server(kind, wasmtime, native, data)
            server.wait_ready(paths[0])
            run = {"c1": wrk(server.base + paths[0], 1, DURATION)}
            for path in paths:
                run[path] = wrk(server.base + path, 8, DURATION)
            results["rounds"].setdefault(kind, []).append(run)
            server.stop()
    for kind, runs in results["rounds"].items():
        p50 = sorted(run["c1"]["p50_ms"] for run in runs)
        results[kind] = {"p50_ms": p50[len(p50) // 2]}
        for path in ROUND_PATHS[kind]:
            rps = sorted(run[path]["rps"] for run in runs)
            results[kind]["rps" if path == ROUND_PATHS[kind][0] else f"rps {path}"] = rps[len(rps) // 2]
        print(f"  {kind:32} {ROUND_PATHS[kind][0]} median {results[kind]['rps']:8.0f} req/s (8 connections), "
              f"p50 {results[kind]['p50_ms']:.3f} ms (1 connection)", flush=True)
    return results


def startup(wasmtime, native, work):
    """Median seconds from spawn to the first 200, over STARTS starts each."""
    results = {}
    for kind in ["floor-wasi", "floor-spin-sdk", "todo", "todo-aot", "native"]:
        data = work / f"start-{kind}"
        data.mkdir()
        times = []
        for _ in range(STARTS):
            server = Server(kind, wasmtime, native, data)
            times.append(server.wait_ready("/todos/1" if kind.startswith("floor") else "/healthz"))
            server.stop()
        results[kind] = {"median_ms": statistics.median(times) * 1000, "starts": STARTS}
        print(f"  {kind:15} start to first response: {results[kind]['median_ms']:.1f} ms", flush=True)
    return results


def timed_requests(url, count, headers=None, expect=200):
    times = []
    for _ in range(count):
        started = time.perf_counter()
        status, _ = get(url, timeout=300, headers=headers)
        assert status == expect, (url, status)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


# What a search and each kind of sort cost, beside the plain first page: two title
# searches (every todo's title holds "todo", one in a few hundred "77", one in ninety
# "todo 77": the SQL store's trigram index serves searches of three characters or more),
# and the two orders that are not by id.
SEARCHES = {
    "search_ms": "/todos?title=77",
    "search_long_ms": "/todos?title=todo%2077",
    "sort_title_ms": "/todos?sort=-title",
    "sort_due_ms": "/todos?sort=dueBy",
}


def list_costs(base, count):
    """The plain first page, a todo, and SEARCHES, each the median of `count` requests."""
    costs = {
        "list_ms": timed_requests(base + "/todos", count),
        "get_ms": None,
    }
    for key, path in SEARCHES.items():
        costs[key] = timed_requests(base + path, count)
    return costs


# What compression saves and costs: a page of PAGE todos (gzip at run time) and the OpenAPI
# document (brotli and gzip made at build time), under make serve's wasmtime serve.
CODINGS = {"page of 100 (GET /todos)": ("/todos", ["identity", "gzip"]),
           "GET /openapi.json": ("/openapi.json", ["identity", "gzip", "br"])}
CODING_ROUNDS = 1 if QUICK else 3


def fetch_coded(url, coding):
    """The bytes of the answer to GET url with Accept-Encoding: coding, checked to be in it."""
    request = urllib.request.Request(url, headers={"accept-encoding": coding})
    with urllib.request.urlopen(request, timeout=10) as response:
        sent = response.headers.get("content-encoding") or "identity"
        assert sent == coding, (url, coding, sent)
        return response.read()


def codings(wasmtime, native, work):
    """Bytes, throughput and latency of each answer in each coding at 8 connections, the
    codings in turn CODING_ROUNDS times; the median round."""
    data = work / "codings"
    data.mkdir()
    seed_dir_store(data, PAGE)
    server = Server("todo-pooled", wasmtime, native, data)
    server.wait_ready("/healthz")
    results = {}
    for name, (path, names) in CODINGS.items():
        rounds = {coding: [] for coding in names}
        for _ in range(CODING_ROUNDS):
            for coding in names:
                rounds[coding].append(wrk(server.base + path, 8, DURATION, headers=[f"Accept-Encoding: {coding}"]))
        entry = {}
        for coding in names:
            median = sorted(rounds[coding], key=lambda m: m["rps"])[len(rounds[coding]) // 2]
            entry[coding] = {"bytes": len(fetch_coded(server.base + path, coding)), **median}
            print(f"  {name:26} {coding:8} {entry[coding]['bytes']:7} bytes {median['rps']:8.0f} req/s "
                  f"p50 {median['p50_ms']:.3f} ms", flush=True)
        results[name] = entry
    # Revalidation: the page again, answered 304 against its tag (the collection's version
    # read, no page) and 200 without one, in turn.
    tag = urllib.request.urlopen(server.base + "/todos", timeout=10).headers["etag"]
    rounds = {"200": [], "304": []}
    for _ in range(CODING_ROUNDS):
        rounds["200"].append(wrk(server.base + "/todos", 8, DURATION))
        rounds["304"].append(wrk(server.base + "/todos", 8, DURATION, headers=[f"If-None-Match: {tag}"]))
    results["revalidation"] = {
        status: sorted(runs, key=lambda m: m["rps"])[len(runs) // 2] for status, runs in rounds.items()
    }
    for status, m in results["revalidation"].items():
        print(f"  GET /todos answered {status}: {m['rps']:8.0f} req/s p50 {m['p50_ms']:.3f} ms", flush=True)
    server.stop()
    return results


# The rate limiter's cost: a limit no request reaches, so every request takes from its
# bucket in the store and none is refused.
LIMITER_SETTINGS = {"rate_limit": "1000000/1s"}
LIMITER_ROUNDS = 1 if QUICK else 3


def limiter(wasmtime, native, work):
    """GET /todos/{id} at 8 connections with the rate limiter on and off, in turn,
    LIMITER_ROUNDS times, on each store: the directory store (make serve's wasmtime serve),
    SQLite (the Spin build under spin up), PostgreSQL (the native server, the same SQL)."""
    spin_database = spin_seed(wasmtime, native, work, "limiter-spin-seed")
    server_url = postgres_server()
    database = postgres_database(server_url, "bench_limiter")
    seed("postgres", database, PAGE)
    stores = {
        "directory store (make serve)": ("todo-pooled", None),
        "SQLite (Spin build, spin up)": ("todo-spin", None),
        "PostgreSQL (native server)": ("native", database),
    }
    results = {}
    try:
        for store, (kind, backend) in stores.items():
            rounds = {"off": [], "on": []}
            for _ in range(LIMITER_ROUNDS):
                for state, settings in (("off", {}), ("on", LIMITER_SETTINGS)):
                    data = work / f"limiter-{kind}-{state}-{len(rounds[state])}"
                    data.mkdir()
                    if backend is None:
                        seed_for(kind, data, spin_database)
                    server = Server(kind, wasmtime, native, backend or data, settings)
                    server.wait_ready()
                    rounds[state].append(wrk(server.base + f"/todos/{PAGE // 2}", 8, DURATION))
                    server.stop()
            results[store] = {
                state: sorted(runs, key=lambda m: m["rps"])[len(runs) // 2] for state, runs in rounds.items()
            }
            on, off = results[store]["on"], results[store]["off"]
            print(f"  {store:30} limiter off {off['rps']:8.0f} req/s, on {on['rps']:8.0f} req/s "
                  f"({ratio(on['rps'], off['rps']):.2f})", flush=True)
    finally:
        postgres_stop()
    return results


# Owner mode (jwt_owner_claim): one owner's first page as everyone else's todos grow, a read
# of another owner's todo against a missing one, and GET /todos/{id} against the shared list.
OWNER_SECRET = "make-bench-owner-mode-secret-32-bytes+"
OWNER_SETTINGS = {"jwt_hs256_secret": OWNER_SECRET, "jwt_owner_claim": "sub"}
# (todos in all, owners): `owner 0` has PAGE todos at both scales.
OWNER_SCALES = [(PAGE, 1), (10 * PAGE, 10)] if QUICK else [(PAGE, 1), (100_000, 1_000)]
OWNER_ROUNDS = 1 if QUICK else 3


def owner_token(sub):
    """An HS256 bearer token for `sub` under OWNER_SETTINGS, valid for an hour."""
    def b64(raw):
        return base64.urlsafe_b64encode(raw).rstrip(b"=")
    signing = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + b"." + b64(
        json.dumps({"sub": sub, "exp": int(time.time()) + 3600}).encode())
    signature = b64(hmac.new(OWNER_SECRET.encode(), signing, hashlib.sha256).digest())
    return (signing + b"." + signature).decode()


class NativeServer:
    """The native server over `backend` (dir:PATH, sqlite:PATH, a PostgreSQL URL), with
    `settings` as TODO_* variables."""

    def __init__(self, native, backend, settings):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ)
        env.update({f"TODO_{name.upper()}": value for name, value in settings.items()})
        self.process = subprocess.Popen([native, f"127.0.0.1:{self.port}", backend], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(2000):
            try:
                get(self.base + "/healthz", timeout=1)
                return
            except OSError:
                time.sleep(0.005)

    def stop(self):
        self.process.kill()
        self.process.wait()


def owners(wasmtime, native, work):
    """Per store, `owner 0`'s first page (PAGE todos) in a store of OWNER_SCALES[0] and of
    OWNER_SCALES[-1] todos spread over as many owners (target: the large at most 3 times the
    small), and at the large scale a read of its own todo, of another owner's and of a missing
    id (another owner's must cost no more than a missing one); then GET /todos/{id} at 8
    connections under make serve's flags in owner mode and as the shared list, in turn."""
    auth = {"authorization": "Bearer " + owner_token("owner 0")}
    count = 5 if QUICK else 20
    results = {"first_page": {}, "by_id": {}}
    server_url = postgres_server()
    try:
        for store in ("directory store (component)", "SQLite (native)", "PostgreSQL (native)"):
            by_scale = {}
            for size, owners_count in OWNER_SCALES:
                name = f"owners-{size}-{owners_count}"
                if store.startswith("directory"):
                    data = work / name
                    data.mkdir()
                    seed_owned("owned-dir", data, size, owners_count)
                    server = Server("todo", wasmtime, native, data, OWNER_SETTINGS)
                    server.wait_ready()
                elif store.startswith("SQLite"):
                    database = work / f"{name}.db"
                    seed_owned("owned-sqlite", database, size, owners_count)
                    server = NativeServer(native, f"sqlite:{database}", OWNER_SETTINGS)
                else:
                    url = postgres_database(server_url, f"bench_{name.replace('-', '_')}")
                    seed_owned("owned-postgres", url, size, owners_count)
                    server = NativeServer(native, url, OWNER_SETTINGS)
                try:
                    # The first request opens the seeded store; it is not one of those timed.
                    get(server.base + "/todos", timeout=300, headers=auth)
                    m = {"list_ms": timed_requests(server.base + "/todos", count, auth)}
                    if owners_count > 1:
                        # Todo 1 is owner 0's, todo 2 owner 1's; no todo has id size + 1.
                        m["own_ms"] = timed_requests(server.base + "/todos/1", count, auth)
                        m["others_ms"] = timed_requests(server.base + "/todos/2", count, auth, 404)
                        m["missing_ms"] = timed_requests(
                            server.base + f"/todos/{size + 1}", count, auth, 404)
                    by_scale[size] = m
                finally:
                    server.stop()
            small, large = OWNER_SCALES[0][0], OWNER_SCALES[-1][0]
            m = by_scale[large]
            m["ratio"] = ratio(m["list_ms"], by_scale[small]["list_ms"])
            results["first_page"][store] = by_scale
            print(f"  {store:28} owner's first page {by_scale[small]['list_ms']:.3f} ms at {small}, "
                  f"{m['list_ms']:.3f} ms at {large} ({m['ratio']:.2f}); by id: own "
                  f"{m['own_ms']:.3f}, another owner's {m['others_ms']:.3f}, missing "
                  f"{m['missing_ms']:.3f} ms", flush=True)
        rounds = {"shared": [], "owner": []}
        for _ in range(OWNER_ROUNDS):
            for mode in rounds:
                data = work / f"owners-by-id-{mode}-{len(rounds[mode])}"
                data.mkdir()
                if mode == "shared":
                    seed_dir_store(data, PAGE)
                    server = Server("todo-pooled", wasmtime, native, data)
                    headers = ()
                else:
                    seed_owned("owned-dir", data, PAGE, 1)
                    server = Server("todo-pooled", wasmtime, native, data, OWNER_SETTINGS)
                    headers = (f"Authorization: {auth['authorization']}",)
                server.wait_ready()
                rounds[mode].append(wrk(server.base + f"/todos/{PAGE // 2}", 8, DURATION, headers=headers))
                server.stop()
        by_id = {mode: sorted(runs, key=lambda m: m["rps"])[len(runs) // 2] for mode, runs in rounds.items()}
        by_id["ratio"] = ratio(by_id["owner"]["rps"], by_id["shared"]["rps"])
        results["by_id"] = by_id
        print(f"  GET /todos/{{id}} (make serve, 8 connections): shared list {by_id['shared']['rps']:.0f} "
              f"req/s, owner mode {by_id['owner']['rps']:.0f} req/s ({by_id['ratio']:.2f})", flush=True)
    finally:
        postgres_stop()
    return results


PAGE_ROUNDS = 1 if QUICK else 5


def page(wasmtime, native, work):
    """The bytes the page adds to each component (each build against the same build
    without it), and GET /todos/{id} at 8 connections with the page and without it, in
    turn, PAGE_ROUNDS times: under make serve's flags (the directory store) and under spin
    up (the Spin build, SQLite). Each side's median, and its spread (lowest to highest)."""
    results = {"bytes": {}, "by_id": {}}
    for build, (with_page, api_only) in PAGE_BUILDS.items():
        size, without = with_page.stat().st_size, api_only.stat().st_size
        results["bytes"][build] = {"with": size, "without": without, "added": size - without}
        print(f"  {build:20} {size:,} bytes, without the page {without:,}: +{size - without:,}", flush=True)
    spin_database = spin_seed(wasmtime, native, work, "page-spin-seed")
    kinds_by_host = {
        "make serve (directory store)": ("todo-pooled", "api-only-pooled"),
        "spin up (Spin build, SQLite)": ("todo-spin", "api-only-spin"),
    }
    for host, kinds in kinds_by_host.items():
        rounds = {"with": [], "without": []}
        for _ in range(PAGE_ROUNDS):
            for side, kind in zip(rounds, kinds):
                data = work / f"page-{kind}-{len(rounds[side])}"
                data.mkdir()
                seed_for(kind, data, spin_database)
                server = Server(kind, wasmtime, native, data)
                server.wait_ready()
                rounds[side].append(wrk(server.base + f"/todos/{PAGE // 2}", 8, DURATION))
                server.stop()
        m = {}
        for side, runs in rounds.items():
            ordered = sorted(runs, key=lambda run: run["rps"])
            m[side] = dict(ordered[len(ordered) // 2], low=ordered[0]["rps"], high=ordered[-1]["rps"])
        m["ratio"] = ratio(m["with"]["rps"], m["without"]["rps"])
        # Unchanged within the spread: the ranges of the two sides' rounds overlap.
        m["overlap"] = m["with"]["low"] <= m["without"]["high"] and m["without"]["low"] <= m["with"]["high"]
        results["by_id"][host] = m
        print(f"  {host:30} with the page {m['with']['rps']:.0f} req/s ({m['with']['low']:.0f}-"
              f"{m['with']['high']:.0f}), without {m['without']['rps']:.0f} ({m['without']['low']:.0f}-"
              f"{m['without']['high']:.0f}): {m['ratio']:.2f}", flush=True)
    return results


def seed_owned(kind, path, count, owners_count):
    subprocess.run([str(SEED), kind, str(path), str(count), str(owners_count)], check=True)


def postgres_server():
    """A private PostgreSQL server (tests/postgres.sh, which installs PostgreSQL where it is
    missing): its URL. Stopped by postgres_stop()."""
    started = subprocess.run([str(ROOT / "tests/postgres.sh"), "start"], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout
    return re.search(r"TODO_TEST_POSTGRES_URL=(\S+)", started).group(1)


def postgres_stop():
    subprocess.run([str(ROOT / "tests/postgres.sh"), "stop"], cwd=ROOT, check=False,
                   capture_output=True)


def postgres_database(server, name):
    """An empty database `name` on `server`: its URL."""
    for statement in (f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}"):
        subprocess.run(["psql", server, "-qc", statement], check=True, capture_output=True)
    return server.rsplit("/", 1)[0] + "/" + name


def native_costs(native, backend, size, count):
    """list_costs and a GET /todos/{id} on the native server over `backend`."""
    port = free_port()
    process = subprocess.Popen(
        [native, f"127.0.0.1:{port}", backend],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(2000):
            try:
                get(base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.005)
        # The first request opens the seeded database; it is not one of those timed.
        get(base + "/todos", timeout=300)
        costs = list_costs(base, count)
        costs["get_ms"] = timed_requests(base + f"/todos/{size // 2}", count)
        return costs
    finally:
        process.kill()
        process.wait()


def scaling(wasmtime, native, work):
    """GET /todos (first page, searched, sorted) and GET /todos/{id} by number of stored
    todos, on every store: the directory store in the component, and the SQL store natively
    on SQLite and on PostgreSQL."""
    results = {"dir-store (component)": {}, "sqlite (native)": {}, "postgres (native)": {}}
    server_url = postgres_server()
    try:
        for size in SIZES:
            # Fewer requests where each one is slow.
            count = 20 if size <= 10_000 else 5
            data = work / f"scale-{size}"
            data.mkdir()
            seed_dir_store(data, size)
            server = Server("todo", wasmtime, native, data)
            server.wait_ready()
            # The first search after seeding reads every todo and writes the summaries.
            first_search_ms = timed_requests(server.base + SEARCHES["search_ms"], 1)
            results["dir-store (component)"][size] = list_costs(server.base, count)
            results["dir-store (component)"][size]["first_search_ms"] = first_search_ms
            results["dir-store (component)"][size]["get_ms"] = timed_requests(
                server.base + f"/todos/{size // 2}", count)
            server.stop()
            # Counts no longer vouched for (as after a crash, or a copy without its hard
            # links): the next list reads every todo and sets its marks again, once.
            (data / "counts" / "valid").unlink()
            server = Server("todo", wasmtime, native, data)
            server.wait_ready()
            results["dir-store (component)"][size]["recount_ms"] = timed_requests(server.base + "/todos", 1)
            server.stop()
            shutil.rmtree(data)
            database = work / f"scale-{size}.db"
            seed_sqlite(database, size)
            results["sqlite (native)"][size] = native_costs(native, f"sqlite:{database}", size, count)
            url = postgres_database(server_url, f"bench_scale_{size}")
            seed("postgres", url, size)
            results["postgres (native)"][size] = native_costs(native, url, size, count)
            for store, by_size in results.items():
                m = by_size[size]
                print(f"  {store:22} {size:>7} todos: list {m['list_ms']:.3f} ms, "
                      f"get {m['get_ms']:.3f} ms, search {m['search_ms']:.3f} ms, "
                      f"by title {m['sort_title_ms']:.3f} ms, by due date {m['sort_due_ms']:.3f} ms",
                      flush=True)
    finally:
        postgres_stop()
    return results


def revisions(wasmtime, native, work):
    """GET /todos/{id} on the directory store by how often that todo was written: every
    write leaves a revision name behind, and a read must find the newest."""
    results = {}
    for count in ([1, 100] if QUICK else [1, 100, 1000]):
        data = work / f"revisions-{count}"
        data.mkdir()
        seed("revisions", data, count)
        server = Server("todo", wasmtime, native, data)
        server.wait_ready()
        results[count] = {"get_ms": timed_requests(server.base + "/todos/1", 20 if QUICK else 50)}
        server.stop()
        print(f"  todo written {count:>5} times: get {results[count]['get_ms']:.3f} ms", flush=True)
    return results


def ratio(a, b):
    return a / b if b else float("nan")


def markdown(results):
    t, start, scale, size = (results[k] for k in ("throughput", "startup", "scaling", "sizes"))
    c = 8 if 8 in CONNECTIONS else CONNECTIONS[0]
    h = results["headline"]
    floor, todo = h["floor-wasi"], h["todo"]
    todo_p, floor_p, floor_1mib = h["todo-pooled"], h["floor-wasi-pooled"], h["floor-wasi-1mib-stack-pooled"]
    lines = [
        f"# Benchmark results ({'quick' if QUICK else 'full'} run)",
        "",
        f"{results['machine']}; wasmtime {results['wasmtime']}. Reproduce: `make bench`"
        + (" (this was `BENCH_QUICK=1 make bench`)." if QUICK else "."),
        "",
        "## Headline ratios (GET /todos/{id}, wrk, 8 connections)",
        "",
        "Floors are linked like the todo component (128 KiB stack); pooled = `make serve`'s flags.",
        f"Each server measured {HEADLINE_ROUNDS} times, in turn with the others; the median round.",
        "",
        "| ratio | value | target |",
        "|---|---|---|",
        f"| todo ÷ no-SDK floor, both pooled, throughput | {ratio(todo_p['rps'], floor_p['rps']):.2f} | ≥ 0.85 |",
        f"| todo ÷ no-SDK floor, both pooled, p50 latency | {ratio(todo_p['p50_ms'], floor_p['p50_ms']):.2f} | ≤ 1.2 |",
        f"| todo ÷ no-SDK floor, default flags, throughput | {ratio(todo['rps'], floor['rps']):.2f} | |",
        f"| todo ÷ no-SDK floor, default flags, p50 latency | {ratio(todo['p50_ms'], floor['p50_ms']):.2f} | |",
        f"| todo ÷ no-SDK floor with Rust's default 1 MiB stack, both pooled, throughput | {ratio(todo_p['rps'], floor_1mib['rps']):.2f} | |",
        f"| todo ÷ same, p50 latency | {ratio(todo_p['p50_ms'], floor_1mib['p50_ms']):.2f} | |",
        f"| todo pooled ÷ todo, throughput | {ratio(todo_p['rps'], todo['rps']):.2f} | |",
        "",
        f"From the single runs below ({c} connections):",
        "",
        "| ratio | value |",
        "|---|---|",
        f"| todo (precompiled) ÷ todo, default flags, throughput | {ratio(t['todo-aot'][f'get@{c}']['rps'], t['todo'][f'get@{c}']['rps']):.2f} |",
        f"| spin-sdk floor ÷ no-SDK floor, default flags, throughput | {ratio(t['floor-spin-sdk'][f'get@{c}']['rps'], t['floor-wasi'][f'get@{c}']['rps']):.2f} |",
        f"| todo ÷ native, default flags, throughput | {ratio(t['todo'][f'get@{c}']['rps'], t['native'][f'get@{c}']['rps']):.3f} |",
        "",
        "The headline runs:",
        "",
        "| server | req/s (median round) | p50 (ms, median) | req/s of each round |",
        "|---|---|---|---|",
    ]
    for kind, m in h.items():
        rounds = ", ".join(f"{r:,.0f}" for r in m["rounds_rps"])
        lines.append(f"| {kind} | {m['rps']:,.0f} | {m['p50_ms']:.3f} | {rounds} |")
    hs = results["hosts"]
    spin, peer, empty = hs["todo-spin"], hs["peer-spin-sqlite"], hs["floor-spin-sdk-spin"]
    f_spin, f_peer, f_empty = (hs[k + FAITHFUL] for k in ("todo-spin", "peer-spin-sqlite", "floor-spin-sdk-spin"))

    def spread(kind):
        """The worst p99 ÷ p50 over the requests asked on one connection."""
        return max(m["p99_ms"] / m["p50_ms"] for m in hs["servers"][kind]["one_connection"].values())

    lines += [
        "",
        "## Where it really runs: wasmtime serve and real Spin",
        "",
        "The Spin builds under real `spin up` (Spin 4.0.2's CLI, its defaults: SQLite and component",
        "logs in its state directory), and again under the Spin-faithful host (tests/spin-host),",
        "which must show the same costs; the portable build under `wasmtime serve` with `make",
        "serve`'s flags. Spin build and peer read copies of the same database, each server",
        f"measured {HOST_ROUNDS} times in turn with the others, median round.",
        "",
        "| ratio | real spin up | Spin-faithful host | target |",
        "|---|---|---|---|",
        f"| Spin build ÷ hand-written spin-sdk peer, GET /todos/{{id}} throughput (8 connections) | {ratio(spin['rps'], peer['rps']):.2f} | {ratio(f_spin['rps'], f_peer['rps']):.2f} | ≥ 0.9 |",
        f"| Spin build's /healthz ÷ the empty spin-sdk component, throughput (8 connections) | {ratio(spin['rps /healthz'], empty['rps']):.2f} | {ratio(f_spin['rps /healthz'], f_empty['rps']):.2f} | |",
        f"| peer ÷ Spin build, GET /todos/{{id}} p50 (1 connection) | {ratio(peer['p50_ms'], spin['p50_ms']):.2f} | {ratio(f_peer['p50_ms'], f_spin['p50_ms']):.2f} | |",
    ]
    if "todo-spin-before" in hs:
        before = hs["todo-spin-before"]
        lines += [
            f"| before (BENCH_SPIN_BEFORE) ÷ peer, GET /todos/{{id}} throughput (8 connections) | {ratio(before['rps'], peer['rps']):.2f} | | |",
            f"| before's /healthz ÷ the empty spin-sdk component (8 connections) | {ratio(before['rps /healthz'], empty['rps']):.2f} | | |",
        ]
    lines += [
        f"| p99 ÷ p50 on one connection, worst request, wasmtime serve | {spread('todo-pooled'):.2f} | | ≤ 3 |",
        f"| p99 ÷ p50 on one connection, worst request, Spin | {spread('todo-spin'):.2f} | {spread('todo-spin' + FAITHFUL):.2f} | ≤ 3 |",
        "",
        "| server | request | req/s, 8 connections (median round) | p50 (ms), 1 connection, first request |",
        "|---|---|---|---|",
    ]
    for kind, paths in ROUND_PATHS.items():
        if kind not in hs:
            continue
        for path in paths:
            key = "rps" if path == paths[0] else f"rps {path}"
            p50 = f"{hs[kind]['p50_ms']:.3f}" if path == paths[0] else ""
            lines.append(f"| {kind} | GET {path} | {hs[kind][key]:,.0f} | {p50} |")
    lines += [
        "",
        f"Components: the Spin build {size['todo-spin']:,} bytes, the peer {size['peer-spin-sqlite']:,} bytes.",
        "",
        "| server | request | 1 connection: req/s | p50 (ms) | p99 (ms) | p99 ÷ p50 |",
        "|---|---|---|---|---|---|",
    ]
    for kind, entry in hs["servers"].items():
        for path, m in entry["one_connection"].items():
            lines.append(f"| {kind} | GET {path} | {m['rps']:,.0f} | {m['p50_ms']:.3f} | {m['p99_ms']:.3f} "
                         f"| {m['p99_ms'] / m['p50_ms']:.2f} |")
    lines += [
        "",
        "| server | request | 8 connections: req/s | p50 (ms) | p99 (ms) | host RSS peak |",
        "|---|---|---|---|---|---|",
    ]
    for kind, entry in hs["servers"].items():
        m = entry["throughput_8"]
        lines.append(f"| {kind} | GET {m['path']} | {m['rps']:,.0f} | {m['p50_ms']:.3f} | {m['p99_ms']:.3f} "
                     f"| {entry['rss_peak_kb'] / 1024:.1f} MB |")
    lines += [
        "",
        "## Throughput and latency (wrk)",
        "",
        "| server | request | connections | req/s | p50 (ms) | p99 (ms) |",
        "|---|---|---|---|---|---|",
    ]
    for kind, entry in t.items():
        for key, m in entry.items():
            if "@" in key:
                endpoint, connections = key.split("@")
                request = {"get": "GET /todos/{id}" if not kind.startswith("floor") else "GET (hello)",
                           "list": "GET /todos (100)", "create": "POST /todos"}[endpoint]
                lines.append(f"| {kind} | {request} | {connections} | {m['rps']:.0f} | {m['p50_ms']:.3f} | {m['p99_ms']:.3f} |")
    lines += [
        "",
        "## Start, memory and size",
        "",
        f"| server | start to first response (median of {STARTS}) | host RSS idle | host RSS peak under load | artifact |",
        "|---|---|---|---|---|",
    ]
    for kind in start:
        lines.append(
            f"| {kind} | {start[kind]['median_ms']:.1f} ms | {t[kind]['rss_idle_kb'] / 1024:.1f} MB "
            f"| {t[kind]['rss_peak_kb'] / 1024:.1f} MB | {size[kind]:,} bytes |"
        )
    for kind in (k for k in t if k.endswith("-pooled")):
        lines.append(
            f"| {kind} | | {t[kind]['rss_idle_kb'] / 1024:.1f} MB | {t[kind]['rss_peak_kb'] / 1024:.1f} MB | |"
        )
    for name, figures in PUBLISHED.items():
        lines.append(
            f"| seed, .NET {name} (published, not measured here) | {figures['start_ms']} ms | | "
            f"{figures['memory_mb']} MB | {figures['image_mb']} MB image |"
        )
    lines += [
        "",
        "Artifacts: the component `.wasm`, the precompiled `.cwasm`, the native binary (with",
        "SQLite). The wasmtime CLI that serves a component is not counted; the seed's image is.",
        "",
        "## Cost by number of stored todos (median of sequential requests)",
        "",
        "| store | todos | GET /todos first page (ms) | GET /todos/{id} (ms) | page ÷ page at " + f"{SIZES[0]:,} |",
        "|---|---|---|---|---|",
    ]
    for store, by_size in scale.items():
        base = by_size[SIZES[0]]["list_ms"]
        for n, m in by_size.items():
            lines.append(f"| {store} | {n:,} | {m['list_ms']:.3f} | {m['get_ms']:.3f} | {ratio(m['list_ms'], base):.1f} |")
    lines += [
        "",
        "Searching and sorting, beside the plain first page (each a first page of 100):",
        "`title=77`, `title=todo 77`, `sort=-title`, `sort=dueBy` (every fifth todo has a date).",
        "The SQL store does both in SQL (searches of three characters or more through a trigram",
        "index); the directory store reads a summary per 1,024 ids (docs/storage.md), each read",
        "todo by todo once after it changed. Each ratio is to the store's own first page.",
        "",
        "| store | todos | first page (ms) | `77` (ms) | `todo 77` (ms) | by title (ms) | by due date (ms) "
        "| `77` ÷ page | `todo 77` ÷ page | by title ÷ page | by due date ÷ page |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for store, by_size in scale.items():
        for n, m in by_size.items():
            long = m.get("search_long_ms", float("nan"))
            lines.append(
                f"| {store} | {n:,} | {m['list_ms']:.3f} | {m['search_ms']:.3f} | {long:.3f} | "
                f"{m['sort_title_ms']:.3f} | {m['sort_due_ms']:.3f} | {ratio(m['search_ms'], m['list_ms']):.1f} | "
                f"{ratio(long, m['list_ms']):.1f} | "
                f"{ratio(m['sort_title_ms'], m['list_ms']):.1f} | {ratio(m['sort_due_ms'], m['list_ms']):.1f} |")
    lines += [
        "",
        "The directory store's first list once its counts are no longer vouched for (after a",
        "crash, a copy without hard links, or data from before counting): it reads every todo",
        "and sets its marks, once; and its first search after seeding, which reads every todo",
        "and writes the summaries, once.",
        "",
        "| todos | that list (ms) | first search (ms) |",
        "|---|---|---|",
    ]
    for n, m in scale["dir-store (component)"].items():
        lines.append(f"| {n:,} | {m['recount_ms']:.1f} | {m.get('first_search_ms', float('nan')):.1f} |")
    lines += [
        "",
        "## GET /todos/{id} by how often the todo was written (directory store, component)",
        "",
        "| revisions | GET /todos/{id} (ms) |",
        "|---|---|",
    ]
    for count, m in results["revisions"].items():
        lines.append(f"| {count:,} | {m['get_ms']:.3f} |")
    if "codings" in results:
        lines += [
            "",
            "## Compressed answers (make serve's wasmtime serve, 8 connections)",
            "",
            "A page of 100 todos is gzipped at run time (level 1); the OpenAPI document is served",
            f"from brotli and gzip copies made at build time. Codings in turn, {CODING_ROUNDS} rounds; the median.",
            "",
            "| answer | coding | bytes | ÷ identity bytes | req/s | ÷ identity req/s | p50 (ms) |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, entry in results["codings"].items():
            if name == "revalidation":
                continue
            plain = entry["identity"]
            for coding, m in entry.items():
                lines.append(
                    f"| {name} | {coding} | {m['bytes']:,} | {ratio(m['bytes'], plain['bytes']):.2f} | "
                    f"{m['rps']:.0f} | {ratio(m['rps'], plain['rps']):.2f} | {m['p50_ms']:.3f} |")
        if "revalidation" in results["codings"]:
            # Keys as measured ("200"), or as results.json gives them back (200).
            r = {str(status): m for status, m in results["codings"]["revalidation"].items()}
            lines += [
                "",
                "## Revalidated lists (make serve's wasmtime serve, directory store, 8 connections)",
                "",
                "`GET /todos` (a page of 100) with `If-None-Match` naming its tag, answered `304` from the",
                "collection's version without reading the page, against the same request answered `200`.",
                "",
                "| answer | req/s | p50 (ms) | ÷ 200 | target |",
                "|---|---|---|---|---|",
                f"| 200 | {r['200']['rps']:.0f} | {r['200']['p50_ms']:.3f} | 1.00 | |",
                f"| 304 | {r['304']['rps']:.0f} | {r['304']['p50_ms']:.3f} | {ratio(r['304']['rps'], r['200']['rps']):.2f} | ≥ 3 |",
            ]
    if "limiter" in results:
        lines += [
            "",
            "## The rate limiter's cost (GET /todos/{id}, 8 connections)",
            "",
            f"`rate_limit` = `{LIMITER_SETTINGS['rate_limit']}` (every request takes from its bucket, none",
            f"is refused) against no limit, in turn, {LIMITER_ROUNDS} rounds; the median.",
            "",
            "| store | off (req/s) | on (req/s) | on ÷ off | p50 off (ms) | p50 on (ms) |",
            "|---|---|---|---|---|---|",
        ]
        for store, m in results["limiter"].items():
            lines.append(
                f"| {store} | {m['off']['rps']:.0f} | {m['on']['rps']:.0f} | "
                f"{ratio(m['on']['rps'], m['off']['rps']):.2f} | {m['off']['p50_ms']:.3f} | {m['on']['p50_ms']:.3f} |")
    if "owners" in results:
        o = results["owners"]
        (small, _), (large, spread) = OWNER_SCALES[0], OWNER_SCALES[-1]
        lines += [
            "",
            "## Owner mode",
            "",
            f"One owner's first page ({PAGE} todos, its own) in a store of {small} todos (that owner's",
            f"alone) and of {large:,} spread over {spread:,} owners, the median of the requests; at the",
            "large size also a read of its own todo, of another owner's (404) and of an id no todo",
            "has (404).",
            "",
            f"| store | first page at {small} (ms) | at {large:,} (ms) | ÷ | target | own todo (ms) | another owner's (ms) | missing (ms) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for store, by_scale in o["first_page"].items():
            m = by_scale[large]
            lines.append(
                f"| {store} | {by_scale[small]['list_ms']:.3f} | {m['list_ms']:.3f} | {m['ratio']:.2f} | ≤ 3 | "
                f"{m['own_ms']:.3f} | {m['others_ms']:.3f} | {m['missing_ms']:.3f} |")
        b = o["by_id"]
        lines += [
            "",
            f"`GET /todos/{{id}}` at 8 connections under make serve's flags, {OWNER_ROUNDS} rounds in turn:",
            f"the shared list {b['shared']['rps']:.0f} req/s (p50 {b['shared']['p50_ms']:.3f} ms), owner mode",
            f"{b['owner']['rps']:.0f} req/s (p50 {b['owner']['p50_ms']:.3f} ms): **{b['ratio']:.2f}** of the shared list's",
            "throughput (each request verifies its token).",
        ]
    if "page" in results:
        p = results["page"]
        lines += [
            "",
            "## The page's cost",
            "",
            "Each component with the page (`web/`, served at `/`) and built without it",
            "(`--no-default-features`):",
            "",
            "| component | with the page (bytes) | without (bytes) | added | budget |",
            "|---|---|---|---|---|",
        ]
        for build, b in p["bytes"].items():
            lines.append(f"| {build} | {b['with']:,} | {b['without']:,} | {b['added']:,} | 49,152 |")
        lines += [
            "",
            f"`GET /todos/{{id}}` at 8 connections with the page and without it, in turn, {PAGE_ROUNDS}",
            "rounds: each side's median and its spread (lowest to highest round).",
            "",
            "| host | with the page (req/s) | spread | without (req/s) | spread | with ÷ without | within the spread |",
            "|---|---|---|---|---|---|---|",
        ]
        for host, m in p["by_id"].items():
            w, o = m["with"], m["without"]
            lines.append(
                f"| {host} | {w['rps']:.0f} | {w['low']:.0f}-{w['high']:.0f} | {o['rps']:.0f} | "
                f"{o['low']:.0f}-{o['high']:.0f} | {m['ratio']:.2f} | {'yes' if m['overlap'] else 'no'} |")
    return "\n".join(lines) + "\n"


def svg_chart(results):
    """Horizontal bars, each panel its own scale: throughput at 8 connections, start time,
    peak memory and artifact size, with the seed's published figures marked as such."""
    t, start, size = results["throughput"], results["startup"], results["sizes"]
    c = 8 if 8 in CONNECTIONS else CONNECTIONS[0]
    panels = [
        (f"GET /todos/{{id}}, req/s at {c} connections (higher is better)",
         [(k, t[k][f"get@{c}"]["rps"], "measured") for k in t]),
        ("start to first response, ms (lower is better)",
         [(k, start[k]["median_ms"], "measured") for k in start]
         + [(f"seed {n} (published)", f["start_ms"], "published") for n, f in PUBLISHED.items()]),
        ("host memory at peak, MB (lower is better)",
         [(k, t[k]["rss_peak_kb"] / 1024, "measured") for k in t]
         + [(f"seed {n} (published)", f["memory_mb"], "published") for n, f in PUBLISHED.items()]),
        ("artifact size, MB (lower is better)",
         [(k, size[k] / 1e6, "measured") for k in ["floor-wasi", "floor-spin-sdk", "todo", "todo-aot", "native"]]
         + [(f"seed {n} image (published)", f["image_mb"], "published") for n, f in PUBLISHED.items()]),
    ]
    width, label_w, bar_w, row_h = 900, 260, 520, 20
    y = 30
    parts = []
    for title, rows in panels:
        parts.append(f'<text x="10" y="{y}" font-weight="bold">{title}</text>')
        y += 10
        top = max(v for _, v, _ in rows) or 1
        for name, value, source in rows:
            w = max(1, bar_w * value / top)
            color = "#bbb" if source == "published" else ("#2b7bb9" if name.startswith("todo") else "#8fb9d9")
            parts.append(f'<text x="10" y="{y + 14}">{name}</text>')
            parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="{color}"/>')
            parts.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 14}">{value:,.1f}</text>')
            y += row_h
        y += 25
    header = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y}" '
        f'font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/>'
    )
    note = (f'<text x="10" y="{y - 8}" fill="#555">Grey: the seed\'s published .NET figures, not measured '
            f'here. Measured by make bench on {results["machine"]}.</text>')
    return header + "".join(parts) + note + "</svg>\n"


def int_keys(table):
    """JSON keeps the todo counts that key some tables as strings; give them back as ints."""
    return {int(k) if k.isdigit() else k: v for k, v in table.items()}


def headline_table(results):
    """The few figures the README quotes, as a Markdown table (bench/results/headline.md).
    The README holds this table verbatim and a test holds it to this file, so the README
    quotes only what a run measured."""
    scaling = results["scaling"]["dir-store (component)"]
    sizes = sorted(scaling)
    small, large = scaling[sizes[0]]["list_ms"], scaling[sizes[-1]]["list_ms"]
    worst = max(scaling[sizes[-1]].get(key, 0) for key in SEARCHES)
    rows = [
        ("start to first response, precompiled (median of "
         f"{results['startup']['todo-aot']['starts']})",
         f"{results['startup']['todo-aot']['median_ms']:.1f} ms"),
        ("`GET /todos/{id}`, `wasmtime serve` with `make serve`'s flags, 8 connections",
         f"{results['headline']['todo-pooled']['rps']:,.0f} req/s, p50 "
         f"{results['headline']['todo-pooled']['p50_ms']:.3f} ms ("
         f"{ratio(results['headline']['todo-pooled']['rps'], results['headline']['floor-wasi-pooled']['rps']):.2f}"
         " of the smallest wasi:http handler's throughput in the same run)"),
        ("`GET /todos/{id}`, the Spin build under `spin up` (Spin 4.0.2), 8 connections",
         f"{results['hosts']['todo-spin']['rps']:,.0f} req/s ("
         f"{ratio(results['hosts']['todo-spin']['rps'], results['hosts']['peer-spin-sqlite']['rps']):.2f}"
         " of a hand-written spin-sdk SQLite read of the same database)"),
        ("host memory at peak, 64 connections, `make serve`'s flags",
         f"{results['throughput']['todo-pooled']['rss_peak_kb'] / 1000:.1f} MB"),
        (f"first page of `GET /todos`, {sizes[-1]:,} vs {sizes[0]:,} todos, directory store",
         f"{large:.2f} vs {small:.2f} ms"),
        (f"the slowest of two title searches and two sorts, {sizes[-1]:,} todos, directory store",
         f"{worst:.2f} ms ({ratio(worst, large):.1f} times its first page)"),
    ]
    lines = ["| measure | result |", "|---|---|"]
    lines += [f"| {measure} | {result} |" for measure, result in rows]
    return "\n".join(lines) + "\n"


def write_results(results):
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "-quick" if QUICK else ""
    (RESULTS / f"results{suffix}.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / f"results{suffix}.md").write_text(markdown(results))
    (RESULTS / f"chart{suffix}.svg").write_text(svg_chart(results))
    (RESULTS / f"headline{suffix}.md").write_text(headline_table(results))
    print((RESULTS / f"results{suffix}.md").read_text())


def main():
    wasmtime, native = sys.argv[1], sys.argv[2]
    work = Path(tempfile.mkdtemp(prefix="todo-bench-"))
    if os.environ.get("BENCH_ONLY") == "render":
        # Writes results.md and headline.md again from results.json, measuring nothing.
        suffix = "-quick" if QUICK else ""
        results = json.loads((RESULTS / f"results{suffix}.json").read_text(), object_hook=int_keys)
        (RESULTS / f"results{suffix}.md").write_text(markdown(results))
        (RESULTS / f"headline{suffix}.md").write_text(headline_table(results))
        return
    # Measures one section again into the last results.
    again = {"hosts": hosts, "scaling": scaling, "codings": codings, "limiter": limiter,
             "owners": owners, "page": page}.get(
        os.environ.get("BENCH_ONLY", ""))
    if again:
        suffix = "-quick" if QUICK else ""
        results = json.loads((RESULTS / f"results{suffix}.json").read_text(), object_hook=int_keys)
        try:
            results[os.environ["BENCH_ONLY"]] = again(wasmtime, native, work)
            write_results(results)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return
    try:
        subprocess.run([wasmtime, "compile", str(WASM["todo"]), "-o", str(WASM["todo"].with_suffix(".cwasm"))], check=True)
        results = {
            "quick": QUICK,
            "machine": f"{os.cpu_count()} cores, {os.uname().machine}, Linux {os.uname().release}",
            "wasmtime": subprocess.run([wasmtime, "--version"], capture_output=True, text=True).stdout.strip(),
            "sizes": sizes(native),
        }
        # wasmtime caches what it compiles from a .wasm (on by default; the key includes the
        # flags): start each once so every run measures serving, as after a deployment's
        # first start, not compiling.
        for kind in [k for k in KINDS if k not in ("native", "todo-aot")]:
            warm = work / f"warm-{kind}"
            warm.mkdir()
            server = Server(kind, wasmtime, native, warm)
            server.wait_ready("/todos/1" if kind.startswith("floor") else "/healthz")
            server.stop()
        print("throughput and memory:", flush=True)
        results["throughput"] = throughput(wasmtime, native, work)
        print("headline, servers in turn:", flush=True)
        results["headline"] = headline(wasmtime, native, work)
        print("where it really runs (wasmtime serve, spin up, the Spin-faithful host):", flush=True)
        results["hosts"] = hosts(wasmtime, native, work)
        print("start-up:", flush=True)
        results["startup"] = startup(wasmtime, native, work)
        print("cost by stored todos:", flush=True)
        results["scaling"] = scaling(wasmtime, native, work)
        print("cost by revisions of one todo:", flush=True)
        results["revisions"] = revisions(wasmtime, native, work)
        print("compressed answers:", flush=True)
        results["codings"] = codings(wasmtime, native, work)
        print("the rate limiter's cost:", flush=True)
        results["limiter"] = limiter(wasmtime, native, work)
        print("owner mode:", flush=True)
        results["owners"] = owners(wasmtime, native, work)
        print("the page's cost:", flush=True)
        results["page"] = page(wasmtime, native, work)
        write_results(results)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
