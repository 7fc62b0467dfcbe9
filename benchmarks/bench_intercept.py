"""The interposed ``claude``: what it costs over the bare CLI, and how fast a replayed process is.

Everything against the loopback stub, alternating variants so machine noise hits each alike:
  bare CLI            subprocess.run([<real claude>, -p, ...]) with the hermetic environment
  intercepted live    the same command through the launcher: server round trip, relay, tracking (a step)
  intercepted replay  the same command answered from a cassette (a fresh CassetteInterceptor per run, as
                      a test has): the launcher's start included, the transcript restored, the step recorded
  SDK query live      claude_agent_sdk.query() through the interposed claude (version probe + duplex call)
  SDK query replay    the same, replayed (the recorded initialize answer, user message checked)
Goals: intercepted live <= 3 % over the bare CLI; one replayed process <= 80 ms median.

    .venv/bin/python benchmarks/bench_intercept.py [--runs 9] [--claude-bin PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _bench_common import add_claude_bin_option, alternating, machine, missing_claude_bin, summary, timed

from pytest_claude_sessions.cassettes.recorder import CassetteInterceptor
from pytest_claude_sessions.executor.executor import ClaudeExecutor
from pytest_claude_sessions.intercept.bindir import write_launcher
from pytest_claude_sessions.intercept.launcher import ENV_PAYLOAD
from pytest_claude_sessions.intercept.sdk import SdkRedirect
from pytest_claude_sessions.intercept.server import InterceptedTest, InterceptServer
from pytest_claude_sessions.store.tracker import SessionTracker
from pytest_claude_sessions.stub.server import MessagesStub

PROMPT = "my name is Alice"


class Bench:
    def __init__(self, base: Path, real: str, stub: MessagesStub) -> None:
        self.base, self.real, self.stub = base, real, stub
        self.server = InterceptServer()
        self.server.start()
        self.launcher = str(write_launcher(self.server.directory / "bin", self.server.socket_path))
        self.cwd = base / "cwd"
        self.cwd.mkdir()
        self.count = 0

    def executor(self, interceptor: CassetteInterceptor | None) -> ClaudeExecutor:
        self.count += 1
        config = self.base / f"c{self.count}" / ".claude"
        tracker = SessionTracker(f"bench-{self.count}", self.base / "store", fsync=False)
        executor = ClaudeExecutor(
            self.real, cwd=self.cwd, config_dir=config, env=self.stub.env(), tracker=tracker
        )
        executor.interceptor = interceptor
        return executor

    def env_for(self, executor: ClaudeExecutor, *, replaying: bool, version: str | None) -> dict[str, str]:
        overrides = {k: v for k, v in executor.build_env().items() if os.environ.get(k) != v}
        test = InterceptedTest("bench", executor, self.real, live_env=overrides)
        token = self.server.register(test)
        payload = {
            "socket": self.server.socket_path,
            "token": token,
            "cli": self.real,
            "version": version,
            "replaying": replaying,
            "live_possible": not replaying,
        }
        return {
            **os.environ,
            "PATH": str(Path(self.launcher).parent) + os.pathsep + os.environ.get("PATH", ""),
            "CLAUDE_CONFIG_DIR": str(executor.config_dir),
            ENV_PAYLOAD: json.dumps(payload),
        }

    def run(self, binary: str, env: dict[str, str]) -> None:
        done = subprocess.run(
            [binary, "-p", "--output-format", "json", "--", PROMPT],
            env=env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(done.stderr or done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=9)
    add_claude_bin_option(parser)
    args = parser.parse_args()
    problem = missing_claude_bin(args.claude_bin)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    real = str(Path(args.claude_bin).resolve())
    with tempfile.TemporaryDirectory(prefix="bench-intercept-") as tmp, MessagesStub() as stub:
        bench = Bench(Path(tmp), real, stub)
        cassette = Path(tmp) / "cassette.json"
        recorder = CassetteInterceptor(cassette, mode="all", fsync=False)
        recording = bench.executor(recorder)
        bench.run(bench.launcher, bench.env_for(recording, replaying=False, version=None))
        recorder.finish()

        def bare(_: int) -> float:
            executor = bench.executor(None)
            return timed(lambda: bench.run(real, executor.build_env()))

        def live(_: int) -> float:
            executor = bench.executor(None)
            env = bench.env_for(executor, replaying=False, version=None)
            return timed(lambda: bench.run(bench.launcher, env))

        def replay(_: int) -> float:
            executor = bench.executor(CassetteInterceptor(cassette, mode="none", fsync=False))
            env = bench.env_for(executor, replaying=True, version="2.1.330")
            return timed(lambda: bench.run(bench.launcher, env))

        samples = alternating(
            {"bare CLI": bare, "intercepted live": live, "intercepted replay": replay}, args.runs
        )
        sdk = sdk_samples(bench, args.runs)
        bench.server.close()
    print(f"machine: {machine()}")
    print(f"runs: {args.runs} (alternating), CLI {real}")
    base = statistics.median(samples["bare CLI"])
    for name, values in [*samples.items(), *sdk.items()]:
        med, p95, low, high = summary(values)
        if name == "intercepted live":
            ratio = f"  {100 * (med / base - 1):+.1f} % vs bare (goal <= +3 %)"
        elif name == "intercepted replay":
            ratio = f"  {base / med:.1f}x faster than the bare CLI (goal <= 80 ms median)"
        elif name == "SDK query replay" and "SDK query live" in sdk:
            ratio = f"  {statistics.median(sdk['SDK query live']) / med:.1f}x faster than live"
        else:
            ratio = ""
        print(
            f"{name:20s} median {med * 1000:7.1f} ms  p95 {p95 * 1000:7.1f}  min {low * 1000:7.1f}  "
            f"max {high * 1000:7.1f}{ratio}"
        )
    return 0


def sdk_samples(bench: Bench, runs: int) -> dict[str, list[float]]:
    sdk_dir = Path(__file__).resolve().parent.parent / ".sdk"  # where scripts/test.sh installs it
    if sdk_dir.is_dir():
        sys.path.insert(0, str(sdk_dir))
    try:
        from claude_agent_sdk import ClaudeAgentOptions, query
    except ImportError:
        print("claude-agent-sdk not installed: no SDK figures")
        return {}

    async def one(cwd: Path) -> Any:
        async for message in query(prompt=PROMPT, options=ClaudeAgentOptions(cwd=cwd)):
            last = message
        return last

    redirect = SdkRedirect(bench.launcher)
    redirect.start()
    saved = dict(os.environ)
    cassette = bench.base / "sdk-cassette.json"

    def call(executor: ClaudeExecutor, *, replaying: bool) -> float:
        env = bench.env_for(executor, replaying=replaying, version="2.1.330")
        os.environ.clear()
        os.environ.update(env)
        try:
            return timed(lambda: asyncio.run(one(bench.cwd)))
        finally:
            os.environ.clear()
            os.environ.update(saved)

    try:
        recorder = CassetteInterceptor(cassette, mode="all", fsync=False)
        call(bench.executor(recorder), replaying=False)
        recorder.finish()
        return alternating(
            {
                "SDK query live": lambda _: call(bench.executor(None), replaying=False),
                "SDK query replay": lambda _: call(
                    bench.executor(CassetteInterceptor(cassette, mode="none", fsync=False)), replaying=True
                ),
            },
            runs,
        )
    finally:
        redirect.stop()


if __name__ == "__main__":
    raise SystemExit(main())
