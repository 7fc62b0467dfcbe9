"""Validator throughput and memory on a large, realistic CLI transcript (default ~200 MB).

Builds a transcript shaped like Claude Code 2.1.330's (the record types and fields of the real samples,
tool-use turns with large tool results, a request-shape record now and then, one long valid chain), then
runs each measurement in a fresh child process so that its peak RSS (``ru_maxrss``) counts only that
measurement, not the generator. Prints the figures side by side with two baselines:

- ``read lines``: reading the file line by line without parsing (the I/O floor);
- ``naive load``: ``[json.loads(line) for line in file]``, which holds every record in memory.

Profiles: ``realistic`` (tool results of 1-30 KB, attachments, request shapes) and ``dense`` (short
records only: the most chain uuids per MB, the worst case for memory).

Usage: python benchmarks/bench_validator.py [--size-mb 200] [--repeat 2] [--profiles realistic,dense]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CWD = "/home/user/bench-project"
PROJECT = "-home-user-bench-project"

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
task, config, sid, prev_leaf = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
from pytest_claude_sessions.transcripts.validator import SessionValidator
v = SessionValidator(config)
path = v.find_transcript(sid)
out = {}
t0 = time.perf_counter()
if task == "baseline":
    pass
elif task == "read":
    n = 0
    with open(path, "rb") as fh:
        for line in fh:
            n += 1
    out["lines"] = n
elif task == "naive":
    with open(path, "rb") as fh:
        records = [json.loads(line) for line in fh]
    out["lines"] = len(records)
elif task == "validate":
    ok, error = v.validate_session_file(sid)
    assert ok, error
elif task == "info":
    info = v.get_session_info(sid)
    assert info is not None
    out["messages"] = info["message_count"]
    out["uuids"] = info["chain_node_count"]
elif task == "continuity":
    verdict = v.check_continuity(sid, sid, previous_leaf_uuid=prev_leaf)
    assert verdict.ok, verdict.reason
out["seconds"] = time.perf_counter() - t0
out["maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps(out))
"""


def _ts(i: int) -> str:
    return (
        f"2026-11-24T{(i // 3600000) % 24:02d}:{(i // 60000) % 60:02d}:{(i // 1000) % 60:02d}.{i % 1000:03d}Z"
    )


def _assistant(msg_id: str, block: dict[str, Any], usage: dict[str, int]) -> dict[str, Any]:
    """One content block of an assistant message (the CLI writes a record per block, one message id)."""
    return {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": "claude-opus-5-5",
        "content": [block],
        "usage": usage,
    }


class Generator:
    """Writes turns that look like the CLI's: prompts, attachments, assistant blocks, tool calls."""

    def __init__(self, fh: Any, session_id: str, rng: random.Random, dense: bool = False) -> None:
        self.fh = fh
        self.dense = dense  # short texts, no big tool results: the most uuids per MB (worst memory case)
        self.sid = session_id
        self.rng = rng
        self.leaf: str | None = None
        self.clock = 0
        self.turns = 0
        self.cost = 0.0
        self.first_turn_leaf: str | None = None
        self.written = 0

    def _emit(self, rec: dict[str, Any]) -> None:
        line = json.dumps(rec, separators=(",", ":")) + "\n"
        self.fh.write(line)
        self.written += len(line.encode())

    def _node(self, rtype: str, **fields: Any) -> dict[str, Any]:
        self.clock += self.rng.randint(5, 900)
        rec: dict[str, Any] = {
            "parentUuid": self.leaf,
            "isSidechain": False,
            "type": rtype,
            "uuid": str(uuid.uuid4()),
            "timestamp": _ts(self.clock),
            "userType": "external",
            "entrypoint": "sdk-cli",
            "cwd": CWD,
            "sessionId": self.sid,
            "version": "2.1.330",
            "gitBranch": "HEAD",
        }
        rec.update(fields)
        self._emit(rec)
        self.leaf = rec["uuid"]
        return rec

    def _text(self, n: int) -> str:
        if self.dense:
            n = min(n, 60)
        words = ("the", "file", "config", "returns", "value", "test", "session", "error", "import", "def")
        return " ".join(self.rng.choice(words) for _ in range(n // 5))

    def turn(self) -> None:
        sid = self.sid
        self.turns += 1
        prompt = f"step {self.turns}: " + self._text(self.rng.randint(40, 600))
        self._emit(
            {
                "type": "queue-operation",
                "operation": "enqueue",
                "timestamp": _ts(self.clock),
                "sessionId": sid,
                "content": prompt,
            }
        )
        self._emit(
            {
                "type": "queue-operation",
                "operation": "dequeue",
                "timestamp": _ts(self.clock),
                "sessionId": sid,
            }
        )
        self._node(
            "user",
            promptId=str(uuid.uuid4()),
            message={"role": "user", "content": prompt},
            permissionMode="default",
            promptSource="sdk",
            turnOrigin="sdk",
            turnPosition={"promptIndex": self.turns - 1, "turnIndex": 1},
        )
        if self.turns == 1 or self.turns % 25 == 0:
            for kind in (
                "environment",
                "model",
                "deferred_tools_delta",
                "skill_listing",
                "date",
                "prompt_snapshot",
            ):
                self._node(
                    "attachment",
                    attachment={"type": kind, "content": self._text(400)},
                    rendered=[{"content": self._text(800)}],
                    renderedRole="user",
                )
            self._emit(
                {
                    "type": "api-request-shape",
                    "sessionId": sid,
                    "shapeHash": "a" * 64,
                    "timestamp": _ts(self.clock),
                    "version": "2.1.330",
                    "shape": self._text(38_000),
                }
            )
        for _call in range(self.rng.randint(0, 3)):  # tool calls: text + tool_use blocks, then the result
            msg = f"msg_fake_{uuid.uuid4().hex[:20]}"
            self._emit(
                {
                    "type": "api-request",
                    "sessionId": sid,
                    "id": str(uuid.uuid4()),
                    "timestamp": _ts(self.clock),
                    "version": "2.1.330",
                    "params": {"model": "claude-opus-5-5", "max_tokens": 32000},
                    "tail": self._text(300),
                }
            )
            usage = {
                "input_tokens": self.rng.randint(4000, 90000),
                "output_tokens": self.rng.randint(10, 900),
            }
            text = {"type": "text", "text": self._text(300)}
            self._node(
                "assistant",
                message=_assistant(msg, text, usage),
                requestId=f"req_fake_{uuid.uuid4().hex[:20]}",
            )
            tool_id = f"toolu_fake_{uuid.uuid4().hex[:20]}"
            read = {"type": "tool_use", "id": tool_id, "name": "Read", "input": {"file_path": "/home/u/x.py"}}
            tool_uuid = self._node("assistant", message=_assistant(msg, read, usage))["uuid"]
            body = self._text(self.rng.choice((800, 3000, 12_000, 30_000)))
            self._node(
                "user",
                message={
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": tool_id, "content": body}],
                },
                toolUseResult={"stdout": body[:2000]},
                sourceToolAssistantUUID=tool_uuid,
            )
        self._node(
            "assistant",
            message={
                "id": f"msg_fake_{uuid.uuid4().hex[:20]}",
                "type": "message",
                "role": "assistant",
                "model": "claude-opus-5-5",
                "content": [{"type": "text", "text": self._text(self.rng.randint(100, 2500))}],
                "usage": {"input_tokens": 5000, "output_tokens": 300},
            },
        )
        if self.first_turn_leaf is None:
            self.first_turn_leaf = self.leaf
        self.cost += 0.0183
        self._emit(
            {"type": "last-prompt", "lastPrompt": prompt[:200], "leafUuid": self.leaf, "sessionId": sid}
        )
        self._emit(
            {
                "type": "cost-state",
                "sessionId": sid,
                "totalCostUSD": self.cost,
                "totalAPIDuration": 21,
                "modelUsage": {
                    "claude-opus-5-5": {"inputTokens": 4432, "outputTokens": 20, "costUSD": self.cost}
                },
            }
        )


def build(root: Path, size_mb: int, dense: bool) -> tuple[Path, str, str, float]:
    sid = str(uuid.uuid4())
    project = root / "config" / "projects" / PROJECT
    project.mkdir(parents=True)
    path = project / f"{sid}.jsonl"
    t0 = time.perf_counter()
    with path.open("w", encoding="utf-8") as fh:
        gen = Generator(fh, sid, random.Random(42), dense=dense)
        while gen.written < size_mb * 1024 * 1024:
            gen.turn()
    assert gen.first_turn_leaf is not None
    return path, sid, gen.first_turn_leaf, time.perf_counter() - t0


def child(task: str, config: Path, sid: str, prev_leaf: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(REPO), task, str(config), sid, prev_leaf],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"child {task!r} failed:\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        mem = f", {pages / 2**30:.0f} GiB RAM"
    except (ValueError, OSError):
        pass
    return f"{cpu}, {os.cpu_count()} cores{mem}, Python {platform.python_version()}, {platform.system()}"


def measure(root: Path, size_mb: int, profile: str, repeat: int) -> None:
    path, sid, prev_leaf, gen_s = build(root, size_mb, dense=profile == "dense")
    size = path.stat().st_size
    mb = size / 2**20
    with path.open("rb") as fh:
        lines = sum(1 for _ in fh)
    print(
        f"== profile {profile!r}: {mb:.1f} MiB, {lines:,} lines ({size / lines:,.0f} B/line), "
        f"built in {gen_s:.1f}s"
    )
    config = root / "config"
    base = min(
        (child("baseline", config, sid, prev_leaf) for _ in range(repeat)), key=lambda r: r["maxrss_kb"]
    )
    base_rss = base["maxrss_kb"] / 1024
    print(f"child process baseline (interpreter + package import): peak RSS {base_rss:.1f} MiB")
    rows = [
        ("read lines (I/O floor)", "read"),
        ("validate_session_file", "validate"),
        ("get_session_info", "info"),
        ("check_continuity (resume)", "continuity"),
        ("naive load (all records)", "naive"),
    ]
    results: dict[str, dict[str, Any]] = {}
    for _label, task in rows:
        runs = [child(task, config, sid, prev_leaf) for _ in range(repeat)]
        results[task] = min(runs, key=lambda r: r["seconds"])
    header = f"{'measurement':<28}{'seconds':>9}{'MiB/s':>9}{'peak RSS MiB':>14}{'over baseline':>15}"
    print(header)
    print("-" * len(header))
    for label, task in rows:
        r = results[task]
        rss = r["maxrss_kb"] / 1024
        print(f"{label:<28}{r['seconds']:>9.2f}{mb / r['seconds']:>9.1f}{rss:>14.1f}{rss - base_rss:>15.1f}")
    info = results["info"]
    val, naive, read = results["validate"], results["naive"], results["read"]
    val_extra = max(val["maxrss_kb"] / 1024 - base_rss, 0.001)
    naive_extra = naive["maxrss_kb"] / 1024 - base_rss
    uuids = max(info["uuids"], 1)
    print(f"chain nodes (uuids held): {uuids:,}; messages counted: {info['messages']:,}")
    print(f"validate vs I/O floor: {val['seconds'] / read['seconds']:.1f}x the time of just reading lines")
    print(
        f"naive load vs validate: {naive_extra:.0f} MiB vs {val_extra:.1f} MiB over baseline "
        f"({naive_extra / val_extra:.0f}x the memory)"
    )
    print(
        f"validate holds ~{val_extra * 2**20 / uuids:.0f} B per chain uuid; 1 GiB of this profile = "
        f"~{uuids * 1024 / mb:,.0f} uuids -> ~{val_extra * 1024 / mb:.0f} MiB over baseline\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=2, help="runs per measurement; the best is shown")
    parser.add_argument("--profiles", default="realistic,dense", help="comma-separated: realistic, dense")
    parser.add_argument("--dir", type=Path, default=None, help="where to build (default: a temp dir)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print("(each file is in the page cache when measured: CPU-bound figures, not disk figures)\n")
    for profile in args.profiles.split(","):
        root = Path(tempfile.mkdtemp(prefix="bench-validator-", dir=args.dir))
        try:
            measure(root, args.size_mb, profile.strip(), args.repeat)
        finally:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
