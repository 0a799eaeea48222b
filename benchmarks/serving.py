"""Serving latency and throughput: azmlinfsrv directly vs through the local router, side by side.

    .venv/bin/python benchmarks/serving.py [--model-dir DIR] [--requests 300] [--big-requests 40] [--json OUT]

Starts one deployment of a real model (a small HistGradientBoosting classifier trained on the
bundled rainfall data unless --model-dir is given) behind the local router, in a temporary
CTLOOP_HOME, with the repository's endpoint specs and policies. For 1-row and 1,000-row requests
it sends the same bodies, interleaved, directly to azmlinfsrv, through the router, and (for
comparison) through a minimal asyncio forwarder (uvicorn + httpx), one keep-alive client at a
time, and reports p50/p99 latency and throughput. Then, for 1-row requests at 1, 8 and 32
concurrent keep-alive clients, direct and router in alternating rounds (same load conditions),
p50/p99/throughput and the router/direct p99 ratio; with --socat, a byte-splicing proxy in C
(``socat``, a process per connection, no HTTP parsing) in the same rounds, as the lower bound of
what any proxy on the same cores costs. Loopback only; bounded request counts.
Targets (policy for this machine): router overhead at most 2 ms at p50, p99 at most 25 ms (1 row);
router p99 at most 1.2 x direct p99 at every concurrency.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

ASYNC_FORWARDER = """
import os, httpx
BACKEND = os.environ["BACKEND"]
client = None
async def app(scope, receive, send):
    global client
    if scope["type"] != "http":
        return
    if client is None:
        client = httpx.AsyncClient(timeout=60)
    body, more = b"", True
    while more:
        msg = await receive()
        body += msg.get("body", b"")
        more = msg.get("more_body", False)
    resp = await client.post(BACKEND, content=body, headers={"content-type": "application/json"})
    await send({"type": "http.response.start", "status": resp.status_code,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": resp.content})
"""


def _percentile(values: list[float], q: float) -> float:
    from ctloop.rollout.router_metrics import percentile  # nearest rank, as the router reports

    return float(percentile(sorted(values), q) or 0.0)


def _train(dest: Path) -> Path:
    from sklearn.ensemble import HistGradientBoostingClassifier

    from ctloop.datasets import RAINFALL_FEATURES, RAINFALL_LABEL, load_rainfall
    from ctloop.modeling import save_sklearn

    data = load_rainfall().iloc[:3000]
    features = list(RAINFALL_FEATURES)
    model = HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(
        data[features], data[RAINFALL_LABEL]
    )
    save_sklearn(model, dest, data[features].head(50))
    return dest


def _bodies(rows: int) -> bytes:
    from ctloop.datasets import RAINFALL_FEATURES, load_rainfall

    frame = load_rainfall().iloc[5000 : 5000 + rows][list(RAINFALL_FEATURES)].astype(float)
    return json.dumps({"data": frame.to_dict("records")}).encode()


def _start_forwarder(backend: str, folder: Path) -> tuple[subprocess.Popen, str]:
    from ctloop.rollout.procs import free_port, wait_until

    (folder / "forwarder.py").write_text(ASYNC_FORWARDER)
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "forwarder:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=folder,
        env={**os.environ, "BACKEND": backend},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def up() -> bool:
        try:
            return httpx.post(f"http://127.0.0.1:{port}/", content=b"{}", timeout=2).status_code < 600
        except httpx.HTTPError:
            return False

    wait_until(up, 60)
    return proc, f"http://127.0.0.1:{port}/score"


def _start_socat(port: int) -> tuple[subprocess.Popen, str]:
    """A socat proxy to ``port`` (one process per connection, bytes spliced, nothing parsed)."""
    import shutil

    from ctloop.rollout.procs import free_port, wait_until

    if shutil.which("socat") is None:
        raise SystemExit("--socat: socat is not installed (apt-get install socat)")
    listen = free_port()
    proc = subprocess.Popen(
        [
            "socat",
            f"TCP-LISTEN:{listen},bind=127.0.0.1,fork,reuseaddr,backlog=1024",
            f"TCP:127.0.0.1:{port}",
        ]
    )

    def up() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{listen}/", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(up, 30)
    return proc, f"http://127.0.0.1:{listen}/score"


def _summary(latencies: dict[str, list[float]], seconds: dict[str, float]) -> dict[str, dict[str, float]]:
    """p50, p99 (ms), throughput over ``seconds`` and the request count per target."""
    return {
        name: {
            "p50_ms": _percentile(values, 0.50),
            "p99_ms": _percentile(values, 0.99),
            "requests_per_s": len(values) / seconds[name],
            "requests": len(values),
        }
        for name, values in latencies.items()
    }


def measure(targets: dict[str, str], body: bytes, count: int, warmup: int) -> dict[str, dict[str, float]]:
    """Send ``count`` requests to each target, interleaved (A, B, C, A, B, C, ...), one at a time."""
    clients = {
        name: httpx.Client(timeout=120, headers={"content-type": "application/json"}) for name in targets
    }
    latencies: dict[str, list[float]] = {name: [] for name in targets}
    busy: dict[str, float] = dict.fromkeys(targets, 0.0)
    try:
        for i in range(warmup + count):
            for name, url in targets.items():
                started = time.perf_counter()
                resp = clients[name].post(url, content=body)
                elapsed = time.perf_counter() - started
                if resp.status_code != 200:
                    raise SystemExit(f"{name}: {resp.status_code} {resp.text[:200]}")
                if i >= warmup:
                    latencies[name].append(elapsed * 1e3)
                    busy[name] += elapsed
    finally:
        for client in clients.values():
            client.close()
    return _summary(latencies, busy)


def measure_concurrent(
    targets: dict[str, str], body: bytes, concurrency: int, per_round: int, rounds: int
) -> dict[str, dict[str, float]]:
    """``rounds`` alternating bursts of ``per_round`` requests per target, ``concurrency`` clients
    each (one keep-alive connection per client)."""
    latencies: dict[str, list[float]] = {name: [] for name in targets}
    wall: dict[str, float] = dict.fromkeys(targets, 0.0)
    lock = threading.Lock()
    clients = [
        httpx.Client(timeout=120, headers={"content-type": "application/json"}) for _ in range(concurrency)
    ]
    try:
        for _ in range(rounds):
            for name, url in targets.items():
                left = [per_round]
                out: list[float] = []

                def work(
                    client: httpx.Client, url: str = url, left: list[int] = left, out: list[float] = out
                ) -> None:
                    while True:
                        with lock:
                            if left[0] <= 0:
                                return
                            left[0] -= 1
                        started = time.perf_counter()
                        resp = client.post(url, content=body)
                        elapsed = (time.perf_counter() - started) * 1e3
                        if resp.status_code != 200:
                            raise SystemExit(f"{url}: {resp.status_code} {resp.text[:200]}")
                        with lock:
                            out.append(elapsed)

                threads = [threading.Thread(target=work, args=(c,)) for c in clients]
                started = time.perf_counter()
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                wall[name] += time.perf_counter() - started
                latencies[name].extend(out)
    finally:
        for client in clients:
            client.close()
    return _summary(latencies, wall)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, help="model folder to serve (default: train a small one)")
    parser.add_argument("--requests", type=int, default=300, help="1-row requests per target")
    parser.add_argument("--big-requests", type=int, default=40, help="1,000-row requests per target")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--no-async", action="store_true", help="skip the asyncio forwarder comparison")
    parser.add_argument(
        "--concurrent-requests", type=int, default=400, help="1-row requests per target and concurrency"
    )
    parser.add_argument(
        "--socat", action="store_true", help="also measure a socat byte-splicing proxy (lower bound)"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("CTLOOP_ROUTER_PORT", "0")  # never collide with a running endpoint

    from ctloop.rollout.endpoint import DeploymentSpec
    from ctloop.rollout.local import LocalEndpoint
    from ctloop.rollout.policy import load_rollout_policy

    with tempfile.TemporaryDirectory(prefix="ctloop-bench-") as tmp:
        root = Path(tmp)
        os.environ["CTLOOP_HOME"] = str(root / "home")
        model = args.model_dir or _train(root / "model")
        endpoint = LocalEndpoint(load_rollout_policy(REPO / "policies"), REPO / "pipelines" / "endpoints")
        forwarder = splicer = None
        try:
            started = time.perf_counter()
            info = endpoint.create_or_update_deployment(DeploymentSpec("blue", "bench", "1", model))
            ready_s = time.perf_counter() - started
            endpoint.set_traffic({"blue": 100})
            direct = f"http://127.0.0.1:{info.detail['port']}/score"
            targets = {"direct": direct, "router": endpoint.scoring_target().url}
            if not args.no_async:
                forwarder, targets["async"] = _start_forwarder(direct, root)
            results: dict[str, Any] = {
                "deployment_ready_s": ready_s,
                "cpus": os.cpu_count(),
                "load_avg_1m": os.getloadavg()[0],
            }
            for rows, count in ((1, args.requests), (1000, args.big_requests)):
                results[f"{rows}_rows"] = measure(targets, _bodies(rows), count, min(args.warmup, count))
            pair = {k: targets[k] for k in ("direct", "router")}
            if args.socat:
                splicer, pair["socat"] = _start_socat(info.detail["port"])
            rounds = 4
            for concurrency in (1, 8, 32):
                results[f"concurrency_{concurrency}"] = measure_concurrent(
                    pair,
                    _bodies(1),
                    concurrency,
                    max(concurrency, args.concurrent_requests // rounds),
                    rounds,
                )
        finally:
            for proc in (forwarder, splicer):
                if proc is not None:
                    proc.terminate()
                    proc.wait(10)
            endpoint.down()

    print(
        f"deployment ready in {results['deployment_ready_s']:.1f} s; {results['cpus']} CPUs, "
        f"load average {results['load_avg_1m']:.1f} at the start"
    )
    print(f"{'rows':>5}  {'target':<8} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8}  requests")
    for rows in (1, 1000):
        block = results[f"{rows}_rows"]
        for name, r in block.items():
            figures = f"{r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['requests_per_s']:>8.1f}"
            print(f"{rows:>5}  {name:<8} {figures}  {r['requests']}")
        overhead = block["router"]["p50_ms"] - block["direct"]["p50_ms"]
        print(f"{rows:>5}  router overhead at p50: {overhead:+.2f} ms")
    one = results["1_rows"]
    overhead = one["router"]["p50_ms"] - one["direct"]["p50_ms"]
    ok = overhead <= 2.0 and one["router"]["p99_ms"] <= 25.0
    print(f"targets (1 row: router overhead <= 2 ms at p50, p99 <= 25 ms): {'met' if ok else 'NOT met'}")
    print(f"{'clients':>7}  {'target':<8} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8}  requests")
    ratios_ok = True
    for concurrency in (1, 8, 32):
        block = results[f"concurrency_{concurrency}"]
        for name, r in block.items():
            figures = f"{r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['requests_per_s']:>8.1f}"
            print(f"{concurrency:>7}  {name:<8} {figures}  {r['requests']}")
        ratio = block["router"]["p99_ms"] / block["direct"]["p99_ms"]
        block["p99_ratio"] = ratio
        ratios_ok = ratios_ok and ratio <= 1.2
        print(f"{concurrency:>7}  router/direct p99: {ratio:.2f}")
        if "socat" in block:
            floor = block["socat"]["p99_ms"] / block["direct"]["p99_ms"]
            block["socat_p99_ratio"] = floor
            print(f"{concurrency:>7}  socat/direct p99: {floor:.2f} (no HTTP parsing: the lower bound)")
    print(f"target (router p99 <= 1.2 x direct at 1, 8, 32 clients): {'met' if ratios_ok else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
