"""Many writers at once, and writers killed with SIGKILL at random instants: nothing acknowledged is lost."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest

from pytest_claude_sessions.errors import StoreWarning
from pytest_claude_sessions.store.journal import parse_journal
from pytest_claude_sessions.store.session_store import SessionStore
from pytest_claude_sessions.store.tracker import SessionTracker

REPO_ROOT = Path(__file__).resolve().parent.parent

# Each writer thread prints "<step_id> <interaction_count>" after update_session() returned.
WRITER = r"""
import sys, threading, warnings
warnings.simplefilter("ignore")
from pytest_claude_sessions.store.tracker import SessionTracker
directory, agent, threads, per_thread = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
lock = threading.Lock()
def work(n):
    tracker = SessionTracker(agent, directory)
    for i in range(per_thread):
        info = tracker.update_session(f"session-{n % 3}", f"prompt {i}", "response")
        with lock:
            sys.stdout.write(f"{info.step_id} {info.interaction_count}\n")
            sys.stdout.flush()
ts = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
for t in ts: t.start()
for t in ts: t.join()
"""

# Runs until killed; acknowledges each update (and each compaction) only after it returned. Half of the
# records are large (0.25-2 MB of metadata), so one append is many pages and a kill lands inside the write:
# the kernel stops a regular-file write at a page boundary when SIGKILL arrives, leaving a torn line.
# fsync is off: the claim under test is about process death, which the page cache survives either way.
ENDLESS = r"""
import random, sys, warnings
warnings.simplefilter("ignore")
from pytest_claude_sessions.store.tracker import SessionTracker
directory, agent, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
rnd = random.Random(seed)
tracker = SessionTracker(agent, directory, fsync=False)
i = 0
while True:
    i += 1
    if rnd.random() < 0.1:
        tracker.store.compact(agent)  # a rewrite: temp file, fsync, os.replace
        continue
    size = rnd.randint(256 * 1024, 2 * 1024 * 1024) if rnd.random() < 0.5 else rnd.randint(0, 2000)
    info = tracker.update_session(
        f"s-{seed}-{i % 4}", "x" * rnd.randint(0, 300), "y", {"size": size, "blob": "z" * size}
    )
    sys.stdout.write(info.step_id + "\n")
    sys.stdout.flush()
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_many_processes_and_threads_lose_nothing_and_never_repeat_a_count(tmp_path: Path) -> None:
    procs, threads, per_thread = 4, 2, 25
    total = procs * threads * per_thread
    reader = SessionTracker("shared", tmp_path)
    snapshots: list[list[int]] = []
    stop = threading.Event()

    def watch() -> None:  # a concurrent reader must only ever see a gap-free prefix
        while not stop.is_set():
            snapshots.append([s.interaction_count for s in reader.session_chain])
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    running = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path), "shared", str(threads), str(per_thread)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        for _ in range(procs)
    ]
    acks: list[tuple[str, int]] = []
    try:
        for proc in running:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            acks += [(a, int(b)) for a, b in (line.split() for line in out.splitlines())]
    finally:
        stop.set()
        watcher.join()
    assert len(acks) == total
    assert sorted(c for _, c in acks) == list(range(1, total + 1))  # every count handed out exactly once
    chain = SessionTracker("shared", tmp_path).session_chain
    assert [s.interaction_count for s in chain] == list(range(1, total + 1))
    assert {s.step_id: s.interaction_count for s in chain} == dict(acks)
    assert reader.interaction_count == total
    assert snapshots, "the watcher never ran"
    for snap in snapshots:
        assert snap == list(range(1, len(snap) + 1))
    assert parse_journal(reader.persistence_file.read_bytes()).ok


def test_threads_in_one_process_share_a_tracker_safely(tmp_path: Path) -> None:
    tracker = SessionTracker("t", tmp_path, fsync=False)
    other = SessionTracker("t", tmp_path, fsync=False)
    errors: list[BaseException] = []

    def work(t: SessionTracker) -> None:
        try:
            for i in range(40):
                t.update_session(f"s{i % 2}", "p", "r")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    ts = [threading.Thread(target=work, args=(tracker if n % 2 else other,)) for n in range(6)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errors == []
    assert [s.interaction_count for s in tracker.session_chain] == list(range(1, 241))
    assert len({s.step_id for s in other.session_chain}) == 240


def _ends_torn(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        size = os.fstat(fd).st_size
        return size > 0 and os.pread(fd, 1, size - 1) != b"\n"
    finally:
        os.close(fd)


def _kill_mid_write(proc: subprocess.Popen[bytes], journal: Path, limit: float) -> None:
    """SIGKILL ``proc`` the moment its journal ends in an unfinished line (or after ``limit`` seconds)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and not _ends_torn(journal):
        pass
    proc.send_signal(signal.SIGKILL)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_at_random_instants_keeps_every_acknowledged_update(tmp_path: Path) -> None:
    rnd = random.Random(1234)
    trials = 12
    torn_by_a_kill = 0
    for trial in range(trials):
        agent = f"victim-{trial}"
        journal = SessionStore(tmp_path).journal_path(agent)
        proc = subprocess.Popen(
            [sys.executable, "-c", ENDLESS, str(tmp_path), agent, str(trial)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=_env(),
        )
        assert proc.stdout is not None
        first = proc.stdout.readline()  # wait until it is really writing
        assert first.endswith(b"\n"), "the writer died before its first update"
        if trial % 2:
            _kill_mid_write(proc, journal, limit=2.0)  # tight: inside an append
        else:
            time.sleep(rnd.uniform(0.0, 0.1))  # anywhere: appends, compactions, between calls
            proc.send_signal(signal.SIGKILL)
        rest = proc.stdout.read()
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        lines = (first + rest).split(b"\n")
        acknowledged = {x.decode() for x in lines[:-1] if x}  # the last piece may be a torn ack
        torn_by_a_kill += _ends_torn(journal)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StoreWarning)  # torn last line: expected after a kill
            store = SessionStore(tmp_path)
            chain = store.load(agent)
        assert parse_journal(journal.read_bytes()).ok
        ids = {s.step_id for s in chain}
        missing = acknowledged - ids
        assert not missing, f"trial {trial}: {len(missing)} acknowledged updates lost"
        assert len(ids - acknowledged) <= 1  # at most the one update in flight when the kill came
        assert [s.interaction_count for s in chain] == list(range(1, len(chain) + 1))
        for step in chain:  # no half-written record was ever taken for a whole one
            assert step.metadata is not None
            assert len(step.metadata["blob"]) == step.metadata["size"]
        # the next writer cuts the torn tail off and continues the numbering
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StoreWarning)
            after = SessionTracker(agent, tmp_path, fsync=False).update_session("next", "p", "r")
        assert after.interaction_count == len(chain) + 1
        assert not _ends_torn(journal)
    assert torn_by_a_kill > 0, "no kill landed inside a write: the test did not exercise torn lines"
    store = SessionStore(tmp_path)
    # kills tear at most the tail; its bytes were copied aside before the cut (a kill during the very first
    # write leaves a file with no complete line: that one is quarantined whole)
    assert all(b"\n" not in p.read_bytes() for p in store.quarantined_files())
    assert len(store.torn_tails()) + len(store.quarantined_files()) >= torn_by_a_kill
    # a rewrite killed midway leaves at most its temp file per journal, removed by the next rewrite
    assert len(list(tmp_path.glob(".*.tmp"))) <= trials
