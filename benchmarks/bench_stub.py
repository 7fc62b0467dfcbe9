"""Benchmark the Messages API stub: start/stop time, per-request latency and requests/s on loopback.

Run: .venv/bin/python benchmarks/bench_stub.py [--requests N] [--seconds S]

Latency is measured with http.client over one keep-alive connection (as the CLI's fetch client does),
for a tiny body and for a body the size of the CLI's first request (about 48 KB: system prompt, tool
schemas, reminders). Throughput uses 1 and 4 client threads, each with its own connection.
"""

from __future__ import annotations

import argparse
import http.client
import json
import resource
import statistics
import threading
import time
from typing import Any

from _bench_common import machine, percentile, timed

from pytest_claude_sessions.stub.server import MessagesStub

CLI_CALL_SECONDS = 0.45  # one `claude -p` against the stub (reference §10), for scale


def make_body(stream: bool, padding: int) -> bytes:
    reminder = "<system-reminder>\n" + "x" * padding + "\n</system-reminder>"
    body: dict[str, Any] = {
        "model": "claude-opus-5-5",
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": reminder}, {"type": "text", "text": "hello"}],
            },
            {"role": "system", "content": [{"type": "text", "text": "# Environment"}]},
        ],
        "max_tokens": 128000,
        "stream": stream,
    }
    return json.dumps(body).encode()


def one_request(conn: http.client.HTTPConnection, data: bytes) -> None:
    conn.request("POST", "/v1/messages?beta=true", data, {"content-type": "application/json"})
    resp = conn.getresponse()
    payload = resp.read()
    if resp.status != 200 or b"ECHO: hello" not in payload:
        raise RuntimeError(f"unexpected answer {resp.status}: {payload[:200]!r}")


def latency(stub: MessagesStub, data: bytes, n: int) -> tuple[float, float, float]:
    conn = http.client.HTTPConnection("127.0.0.1", stub.port, timeout=10)
    try:
        for _ in range(min(50, n)):
            one_request(conn, data)  # warm-up
        samples = [timed(lambda: one_request(conn, data)) for _ in range(n)]
    finally:
        conn.close()
    return statistics.median(samples), percentile(samples, 0.95), max(samples)


def throughput(stub: MessagesStub, data: bytes, threads: int, seconds: float) -> float:
    counts = [0] * threads
    stop_at = time.perf_counter() + seconds

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", stub.port, timeout=10)
        try:
            while time.perf_counter() < stop_at:
                one_request(conn, data)
                counts[i] += 1
        finally:
            conn.close()

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    t0 = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(counts) / (time.perf_counter() - t0)


def start_stop(n: int) -> tuple[float, float]:
    starts, stops = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        stub = MessagesStub().start()
        t1 = time.perf_counter()
        stub.stop()
        t2 = time.perf_counter()
        starts.append(t1 - t0)
        stops.append(t2 - t1)
    return statistics.median(starts), statistics.median(stops)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500, help="requests per latency figure")
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each throughput run")
    args = parser.parse_args()

    print(f"machine: {machine()}")
    print()

    start_median, stop_median = start_stop(20)
    print(
        f"start: median {start_median * 1000:.2f} ms   stop: median {stop_median * 1000:.2f} ms   (20 runs)"
    )
    print()

    bodies = {"tiny": 0, "CLI-sized": 48_000}
    print(f"{'latency per request':<34}{'p50':>10}{'p95':>10}{'max':>10}{'p50 / CLI call':>17}")
    with MessagesStub(log_limit=1000) as stub:
        for label, padding in bodies.items():
            for stream in (True, False):
                data = make_body(stream, padding)
                p50, p95, worst = latency(stub, data, args.requests)
                name = f"{'stream' if stream else 'non-stream'}, {label} ({len(data) // 1000} KB)"
                print(
                    f"{name:<34}{p50 * 1000:>8.2f}ms{p95 * 1000:>8.2f}ms{worst * 1000:>8.2f}ms"
                    f"{p50 / CLI_CALL_SECONDS:>16.2%}"
                )
        print()
        print(f"{'throughput (stream)':<34}{'1 thread':>12}{'4 threads':>12}{'ratio':>8}")
        for label, padding in bodies.items():
            data = make_body(True, padding)
            one = throughput(stub, data, 1, args.seconds)
            four = throughput(stub, data, 4, args.seconds)
            print(f"{label:<34}{one:>8.0f} r/s{four:>8.0f} r/s{four / one:>8.2f}")
        served = len(stub.requests) + stub.requests_dropped
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print()
    print(f"{served} requests served (log_limit 1000), max RSS of this process {rss_mb:.0f} MB")
    print(f"one CLI call takes ~{CLI_CALL_SECONDS}s against the stub, for comparison")


if __name__ == "__main__":
    main()
