"""The mock under load: requests/s, p99, memory and journal count time, against peers.

    python benchmarks/bench_mock.py [--runs 3] [--duration 10] [--warmup 5] [--peer]
                                    [--no-uvloop] [--state] [--only ours,bare,wiremock]
                                    [--redis-workers 1,2,4]

One after another on loopback ports, each started fresh for every run:

- ``ours``: ``python -m mock_nrfcloud --port P`` (journal on, its default bound; with
  ``--state``, also ``--state FILE`` on a fresh file);
- ``bare``: a bare aiohttp handler answering the same bytes (an inline script);
- with ``--peer``, ``wiremock``: WireMock 3 (npm ``wiremock``, which carries its jar),
  installed into .bench/wiremock (scratch, ignored by git) and run with ``java -jar``.

- with ``--redis-workers 1,2,4``, ``redis-1``, ``redis-2``, ``redis-4``: the mock with
  ``--redis URL --workers N`` on a redis-server this script starts in the scratch folder
  (no persistence), a fresh key prefix per start; memory is the mock processes' sum
  (redis-server's own is printed apart).

Each gets a kept response for ``GET /v1/devices`` and ``POST /v1/fota-jobs`` (WireMock:
a stub mapping), a warm-up, then ``wrk -t2 -c50 -d10s --latency`` on each endpoint
(POST through a small Lua script). After the load the server's resident memory (VmRSS)
is read and one journal count (``POST /__admin/requests/count``) is timed. Medians over
the runs are printed, with the ratios ours/WireMock and ours/bare.

Both Python servers use uvloop when it is installed (``pip install -e .[fast]``), as the
mock's command line does; ``--no-uvloop`` measures them on asyncio's own loop. All
traffic goes to 127.0.0.1; every load is bounded in time and every server is stopped
(by its PID) at the end, also on Ctrl-C or an error.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRATCH = ROOT / ".bench" / "mock"
WIREMOCK_DIR = ROOT / ".bench" / "wiremock"
HOST = "127.0.0.1"
START_TIMEOUT_S = 60

DEVICES_BODY = {
    "items": [
        {
            "id": f"oob-35265610860229{i}",
            "type": "Generic",
            "tags": ["bench"],
            "firmware": {"app": {"version": "2.0.0"}},
            "state": {"reported": {"device": {"networkInfo": {"networkMode": "LTE-M"}}}},
        }
        for i in range(3)
    ],
    "total": 3,
}
JOB_BODY = {"jobId": "bc631093-7f7c-4c1b-aa63-a68c759bcd5c"}
POST_BODY = '{"deviceIdentifiers":["oob-352656108602296"],"bundleId":"APP*1e29dfa3*v2.0.1"}'

# The bare peer: what aiohttp costs with nothing of the mock's work around it.
BARE_SERVER = r"""
import sys
from aiohttp import web

DEVICES = sys.argv[2].encode()
JOB = sys.argv[3].encode()
HEADERS = {"Content-Type": "application/json"}

async def devices(request):
    return web.Response(body=DEVICES, headers=HEADERS)

async def job(request):
    await request.read()
    return web.Response(body=JOB, headers=HEADERS)

async def health(request):
    return web.Response(text="ok")

app = web.Application()
app.router.add_get("/v1/devices", devices)
app.router.add_post("/v1/fota-jobs", job)
app.router.add_get("/__health", health)
loop = None
if sys.argv[4] == "uvloop":
    try:
        import uvloop
        loop = uvloop.new_event_loop()
    except ImportError:
        pass
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None,
            print=None, backlog=1024, loop=loop)
"""

# `python -m mock_nrfcloud` with uvloop hidden: the CLI then runs on asyncio's loop.
NO_UVLOOP_MOCK = (
    "import sys; sys.modules['uvloop'] = None; from mock_nrfcloud.cli import main; sys.exit(main())"
)

POST_LUA = f"""
wrk.method = "POST"
wrk.body = '{POST_BODY}'
wrk.headers["Content-Type"] = "application/json"
"""


@dataclass
class Sample:
    get_rps: float
    get_p99_ms: float
    post_rps: float
    post_p99_ms: float
    rss_mb: float
    count_ms: float
    journal_count: int
    errors: list[str] = field(default_factory=list)


@dataclass
class Server:
    name: str
    argv: list[str]
    ready_path: str
    queue: Callable[[int], None]
    count_body: dict
    cwd: Path = ROOT
    process: subprocess.Popen | None = None
    log: object = None
    # --workers: ready once the parent prints its line (every worker listens then)
    ready_line: str | None = None


# -- helpers -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def call(
    port: int, method: str, path: str, body: object = None, timeout: float = 30
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (the workers of --workers)."""
    total = _own_rss_mb(pid)
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return total + sum(_own_rss_mb(int(child)) for child in children)


def _own_rss_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else float("nan")


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        sys.exit("wrk is missing: install it (Debian: apt-get install wrk)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "wrk"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, check=True, capture_output=True)
        subprocess.run(install, env=env, check=True, capture_output=True)
    found = shutil.which("wrk")
    if not found:
        sys.exit("wrk could not be installed")
    return found


def wiremock_jar() -> Path:
    build = WIREMOCK_DIR / "node_modules" / "wiremock" / "build"
    jars = sorted(build.glob("wiremock-standalone-*.jar")) if build.exists() else []
    if not jars:
        WIREMOCK_DIR.mkdir(parents=True, exist_ok=True)
        if not (WIREMOCK_DIR / "package.json").exists():
            subprocess.run(["npm", "init", "-y"], cwd=WIREMOCK_DIR, check=True, capture_output=True)
        subprocess.run(
            ["npm", "install", "--silent", "wiremock"], cwd=WIREMOCK_DIR, check=True, timeout=600
        )
        jars = sorted(build.glob("wiremock-standalone-*.jar"))
    if not jars:
        sys.exit(f"no WireMock jar under {build}")
    return jars[-1]


# -- the servers ---------------------------------------------------------------------


def ours(uvloop: bool, state: bool = False) -> Server:
    def queue(port: int) -> None:
        for method, path, body in (
            ("GET", "/v1/devices", DEVICES_BODY),
            ("POST", "/v1/fota-jobs", JOB_BODY),
        ):
            status, text = call(
                port,
                "POST",
                "/__admin/responses",
                {"method": method, "path": path, "status": 200, "body": body, "keep": True},
            )
            if status != 201:
                raise RuntimeError(f"queueing on ours answered {status}: {text[:200]!r}")

    start = ["-m", "mock_nrfcloud"] if uvloop else ["-c", NO_UVLOOP_MOCK]
    extra: list[str] = []
    if state:
        # A fresh file per benchmark: every answered call is committed before its answer.
        path = SCRATCH / "state.sqlite"
        for suffix in ("", "-wal", "-shm", ".lock"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        extra = ["--state", str(path)]
    return Server(
        "ours", [sys.executable, *start, "--port", "{port}", *extra], "/__admin/health", queue, {}
    )


class RedisServer:
    """A redis-server for the ``redis-N`` servers: scratch folder, no persistence."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            sys.exit("redis-server is missing: install it (Debian: apt-get install redis-server)")
        self.port = free_port()
        folder = SCRATCH / "redis"
        folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                HOST,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with socket.create_connection((HOST, self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                sys.exit("redis-server did not start")
            time.sleep(0.05)
        self.url = f"redis://{HOST}:{self.port}/0"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def ours_on_redis(redis: RedisServer, workers: int) -> Server:
    server = ours(True)
    server.name = f"redis-{workers}"
    prefix = f"bench-{workers}-{{start}}:"
    server.argv += ["--redis", redis.url, "--redis-prefix", prefix, "--workers", str(workers)]
    server.ready_line = "listening on"
    return server


def bare(uvloop: bool) -> Server:
    script = SCRATCH / "bare_aiohttp.py"
    script.write_text(BARE_SERVER)
    argv = [
        sys.executable,
        str(script),
        "{port}",
        json.dumps(DEVICES_BODY, separators=(",", ":")),
        json.dumps(JOB_BODY, separators=(",", ":")),
        "uvloop" if uvloop else "asyncio",
    ]
    return Server("bare", argv, "/__health", lambda port: None, {})


def wiremock() -> Server:
    jar = wiremock_jar()

    def queue(port: int) -> None:
        for method, path, body in (
            ("GET", "/v1/devices", DEVICES_BODY),
            ("POST", "/v1/fota-jobs", JOB_BODY),
        ):
            status, text = call(
                port,
                "POST",
                "/__admin/mappings",
                {
                    "request": {"method": method, "url": path},
                    "response": {
                        "status": 200,
                        "headers": {"Content-Type": "application/json"},
                        "body": json.dumps(body, separators=(",", ":")),
                    },
                },
            )
            if status != 201:
                raise RuntimeError(f"queueing on WireMock answered {status}: {text[:200]!r}")

    argv = [
        "java",
        "-jar",
        str(jar),
        "--port",
        "{port}",
        "--bind-address",
        HOST,
        "--disable-banner",
    ]
    return Server("wiremock", argv, "/__admin/health", queue, {"method": "ANY"}, cwd=WIREMOCK_DIR)


def start(server: Server) -> int:
    port = free_port()
    argv = [
        a.replace("{port}", str(port)).replace("{start}", str(time.monotonic_ns()))
        for a in server.argv
    ]
    server.log = open(SCRATCH / f"{server.name}.log", "w")  # noqa: SIM115
    server.process = subprocess.Popen(
        argv, cwd=server.cwd, stdout=server.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited at start; see {server.log.name}")
        try:
            status, _ = call(port, "GET", server.ready_path, timeout=2)
            if status == 200 and (
                server.ready_line is None or server.ready_line in Path(server.log.name).read_text()
            ):
                return port
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{server.name} did not start in {START_TIMEOUT_S} s")
        time.sleep(0.1)


def stop(server: Server) -> None:
    """Stop the server by its PID: SIGTERM, then SIGKILL after 10 s."""
    process = server.process
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    server.process = None
    if server.log is not None:
        server.log.close()
        server.log = None


# -- wrk -----------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def wrk(
    binary: str, port: int, path: str, seconds: float, threads: int, connections: int, post: bool
) -> tuple[float, float, list[str]]:
    """Requests/s, p99 in ms, and any errors wrk reported."""
    argv = [
        binary,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "--timeout",
        "5s",
    ]
    if post:
        lua = SCRATCH / "post.lua"
        lua.write_text(POST_LUA)
        argv += ["-s", str(lua)]
    argv.append(f"http://{HOST}:{port}{path}")
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.MULTILINE)
    if not rps or not p99:
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    errors = [
        line.strip()
        for line in out.splitlines()
        if line.strip().startswith(("Non-2xx", "Socket errors"))
    ]
    return float(rps.group(1)), float(p99.group(1)) * _UNITS[p99.group(2)], errors


def measure(server: Server, binary: str, args: argparse.Namespace) -> Sample:
    port = start(server)
    try:
        server.queue(port)
        for path, post in (("/v1/devices", False), ("/v1/fota-jobs", True)):
            wrk(binary, port, path, args.warmup / 2, args.threads, args.connections, post)
        get_rps, get_p99, get_errors = wrk(
            binary, port, "/v1/devices", args.duration, args.threads, args.connections, False
        )
        post_rps, post_p99, post_errors = wrk(
            binary, port, "/v1/fota-jobs", args.duration, args.threads, args.connections, True
        )
        assert server.process is not None
        rss = rss_mb(server.process.pid)
        count, count_ms = -1, float("nan")
        if server.name != "bare":
            t0 = time.perf_counter()
            status, text = call(
                port, "POST", "/__admin/requests/count", server.count_body, timeout=120
            )
            count_ms = (time.perf_counter() - t0) * 1000
            if status != 200:
                raise RuntimeError(f"{server.name} count answered {status}: {text[:200]!r}")
            count = json.loads(text)["count"]
        return Sample(
            get_rps,
            get_p99,
            post_rps,
            post_p99,
            rss,
            count_ms,
            count,
            [f"GET {e}" for e in get_errors] + [f"POST {e}" for e in post_errors],
        )
    finally:
        stop(server)


# -- report --------------------------------------------------------------------------

ROWS = (
    ("GET requests/s", "get_rps", "{:,.0f}"),
    ("GET p99 ms", "get_p99_ms", "{:.2f}"),
    ("POST requests/s", "post_rps", "{:,.0f}"),
    ("POST p99 ms", "post_p99_ms", "{:.2f}"),
    ("memory MB (VmRSS)", "rss_mb", "{:,.0f}"),
    ("journal count ms", "count_ms", "{:.1f}"),
    ("journal entries", "journal_count", "{:,.0f}"),
)


def report(samples: dict[str, list[Sample]], runs: int) -> None:
    names = list(samples)
    medians = {
        name: {
            attr: statistics.median(getattr(s, attr) for s in samples[name]) for _, attr, _ in ROWS
        }
        for name in names
    }
    ratios = [("ours/WireMock", "wiremock"), ("ours/bare", "bare")]
    ratios = [(label, peer) for label, peer in ratios if peer in samples and "ours" in samples]
    header = (
        f"{'median of ' + str(runs):<20}"
        + "".join(f"{n:>12}" for n in names)
        + "".join(f"{label:>15}" for label, _ in ratios)
    )
    print(header)
    print("-" * len(header))
    for label, attr, fmt in ROWS:
        cells = []
        for name in names:
            value = medians[name][attr]
            shown = "-" if value != value or value < 0 else fmt.format(value)
            cells.append(f"{shown:>12}")
        for _, peer in ratios:
            mine, theirs = medians["ours"][attr], medians[peer][attr]
            ok = theirs == theirs and mine == mine and theirs > 0 and mine >= 0
            cells.append(f"{(f'{mine / theirs:.2f}x' if ok else '-'):>15}")
        print(f"{label:<20}" + "".join(cells))
    if "wiremock" in samples:
        print()
        print(f"{'against WireMock':<20}{'GET':>10}{'POST':>10}   (medians of the same run)")
        for name in names:
            if name == "wiremock":
                continue
            cells = "".join(
                f"{medians[name][attr] / medians['wiremock'][attr]:>9.2f}x"
                for attr in ("get_rps", "post_rps")
            )
            print(f"{name:<20}{cells}")
    for name in names:
        for i, sample in enumerate(samples[name], 1):
            for error in sample.errors:
                print(f"warning: {name} run {i}: {error}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10, help="seconds of wrk per endpoint")
    parser.add_argument("--warmup", type=float, default=5, help="seconds of warm-up load")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--peer", action="store_true", help="also measure WireMock")
    parser.add_argument(
        "--no-uvloop",
        action="store_true",
        help="run ours and the bare handler on asyncio's own loop",
    )
    parser.add_argument(
        "--state", action="store_true", help="run ours with --state (a fresh SQLite file per start)"
    )
    parser.add_argument(
        "--only",
        default="ours,bare,wiremock",
        help="comma-separated servers to measure (default: all)",
    )
    parser.add_argument(
        "--redis-workers",
        default="",
        metavar="N,N",
        help="also measure the mock on Redis with these --workers counts",
    )
    args = parser.parse_args()
    SCRATCH.mkdir(parents=True, exist_ok=True)
    binary = ensure_wrk()
    wanted = [n.strip() for n in args.only.split(",") if n.strip()]
    if not args.peer:
        wanted = [n for n in wanted if n != "wiremock"]
    factories = {
        "ours": lambda: ours(not args.no_uvloop, args.state),
        "bare": lambda: bare(not args.no_uvloop),
        "wiremock": wiremock,
    }
    servers = [factories[n]() for n in wanted if n in factories]
    redis = None
    counts = [int(n) for n in args.redis_workers.split(",") if n.strip()]
    if counts:
        redis = RedisServer()
        servers += [ours_on_redis(redis, n) for n in counts]
    try:
        import uvloop  # noqa: F401

        loop = "asyncio (--no-uvloop)" if args.no_uvloop else "uvloop"
    except ImportError:
        loop = "asyncio (uvloop not installed)"
    print(
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s --latency after "
        f"{args.warmup:g} s warm-up; {args.runs} runs; Python servers on {loop}; "
        f"{os.cpu_count()} cores",
        flush=True,
    )
    samples: dict[str, list[Sample]] = {s.name: [] for s in servers}
    try:
        for run in range(1, args.runs + 1):
            # A different order each run: the machine's state drifts during a run.
            shift = (run - 1) % len(servers)
            for server in servers[shift:] + servers[:shift]:
                sample = measure(server, binary, args)
                samples[server.name].append(sample)
                print(
                    f"run {run} {server.name:>8}: GET {sample.get_rps:8,.0f}/s p99 "
                    f"{sample.get_p99_ms:7.2f} ms, POST {sample.post_rps:8,.0f}/s p99 "
                    f"{sample.post_p99_ms:7.2f} ms, {sample.rss_mb:6,.0f} MB, count "
                    f"{sample.count_ms:7.1f} ms ({sample.journal_count})",
                    flush=True,
                )
    finally:
        for server in servers:
            stop(server)
        if redis is not None:
            print(f"redis-server at the end: {rss_mb(redis.process.pid):,.0f} MB (VmRSS)")
            redis.stop()
    print()
    report(samples, args.runs)


if __name__ == "__main__":
    main()
