"""The cassette options, marker and fixture in real pytest runs (pytester), recording with the real CLI.

Inner runs record with ``--claude-record-mode=once`` against the stub, then replay with no binary at all.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import hide_every_claude

CHAIN_TEST = """
import pytest

pytestmark = pytest.mark.claude_cassette

class TestAgent:
    @pytest.mark.parametrize("who", ["Alice"])
    def test_chain(self, claude_executor, claude_api_stub, claude_cassette, who):
        first = claude_executor.run(f"my name is {who}")
        second = claude_executor.run("what is my name?", resume=first.session_id)
        fork = claude_executor.run("what is my name?", resume=first.session_id, fork=True)
        assert who in second.result and who in fork.result
        verdict = claude_executor.validator.check_continuity(
            first.session_id, fork.session_id, working_dir=claude_executor.cwd, kind="fork"
        )
        assert verdict, verdict.reason
        # under replay the stub gets no request: the cassette says which case this run is
        assert claude_cassette.replaying == second.replayed == fork.replayed
        live = len(claude_api_stub.requests)
        assert live == (0 if claude_cassette.replaying else 3), live

def test_without_marker_is_untouched(claude_executor):
    assert claude_executor.interceptor is not None  # pytestmark applies to the whole module
"""


@pytest.fixture
def no_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """No claude anywhere (see conftest.hide_every_claude; a --claude-bin pointing nowhere is a start-up
    error). Returns a harmless argument for the inner runs' command lines."""
    hide_every_claude(monkeypatch, tmp_path)
    return "-pno:cacheprovider"


def _cassette(pytester: pytest.Pytester, module: str, name: str) -> Path:
    return pytester.path / "cassettes" / module / f"{name}.json"


def test_record_then_replay_without_the_cli(
    pytester: pytest.Pytester, claude_bin: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pytester.makepyfile(test_agent=CHAIN_TEST)
    recorded = pytester.runpytest_subprocess("--claude-record-mode=once", f"--claude-bin={claude_bin}")
    recorded.assert_outcomes(passed=2)
    recorded.stdout.fnmatch_lines(["*claude-cassettes: mode=once (cli)*", "*0 call(s) replayed, 3 recorded*"])
    path = _cassette(pytester, "test_agent", "TestAgent.test_chain[Alice]")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["header"]["node_id"] == "test_agent.py::TestAgent::test_chain[Alice]"
    assert [i["request"]["kind"] for i in data["interactions"]] == ["new", "resume", "fork"]
    assert not _cassette(pytester, "test_agent", "test_without_marker_is_untouched").exists()  # no calls

    # replay: no binary anywhere, default mode (none), under xdist too
    hide_every_claude(monkeypatch, tmp_path)
    before = path.read_bytes()
    for extra in ([], ["-n", "2"]):
        replayed = pytester.runpytest_subprocess("-rA", *extra)
        replayed.assert_outcomes(passed=2)
        replayed.stdout.fnmatch_lines(
            [
                "*claude-cassettes: mode=none (default)*",
                "*Captured claude cassette teardown*",
                f"cassette: *TestAgent.test_chain[[]Alice].json (CLI {data['header']['cli_version']}; "
                f"recorded {data['header']['recorded_at']})",
                "mode: none (from the default); replayed 3 call(s), recorded 0",
                "*3 call(s) replayed, 0 recorded*",
            ]
        )
    assert path.read_bytes() == before

    # the prompt changed: the replay fails with a diff and the command that re-records it
    pytester.makepyfile(test_agent=CHAIN_TEST.replace('f"my name is {who}"', 'f"I am {who}"'))
    changed = pytester.runpytest_subprocess()
    changed.assert_outcomes(passed=1, failed=1)
    changed.stdout.fnmatch_lines(
        [
            "*CassetteMismatchError: Claude call #1 does not match the next recorded interaction*",
            '*-  "prompt": "my name is Alice",*',
            '*+  "prompt": "I am Alice",*',
            "*re-record with: pytest 'test_agent.py::TestAgent::test_chain[[]Alice]' "
            "--claude-record-mode=rewrite*",
        ]
    )
    assert path.read_bytes() == before
    shown = changed.stdout.str()
    assert "def _plan" not in shown and "pytest_claude_sessions/cassettes.py" not in shown  # no internals

    # the test now stops after its first call: the recorded calls it no longer makes fail it at teardown
    start = CHAIN_TEST.index("        second = ")
    pytester.makepyfile(
        test_agent=CHAIN_TEST[:start] + "\n" + CHAIN_TEST[CHAIN_TEST.index("def test_without") :]
    )
    fewer = pytester.runpytest_subprocess()
    fewer.assert_outcomes(passed=2, errors=1)
    fewer.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of TestAgent.test_chain[[]Alice]*",
            "*CassetteUnusedError: cassette *: recorded interaction(s) #2, #3 of 3 were never replayed*",
        ]
    )
    assert "def finish" not in fewer.stdout.str() and "def claude_cassette" not in fewer.stdout.str()
    assert path.read_bytes() == before


def test_failing_test_keeps_no_cassette_unless_asked(pytester: pytest.Pytester, claude_bin: Path) -> None:
    pytester.makepyfile(
        test_fail="""
        import pytest

        @pytest.mark.claude_cassette
        def test_fails(claude_executor, claude_api_stub):
            claude_executor.run("hello")
            assert False, "the agent misbehaved"

        @pytest.mark.claude_cassette(record_on_failure=True, name="kept")
        def test_fails_but_keeps(claude_cassette, claude_executor, claude_api_stub):
            assert claude_executor.interceptor is claude_cassette
            assert False, "no call, nothing to keep"
        """
    )
    result = pytester.runpytest_subprocess("--claude-record-mode=once", f"--claude-bin={claude_bin}")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*Captured claude cassette teardown*",
            "cassette: *test_fails.json (no file)",
            "mode: once (from --claude-record-mode); replayed 0 call(s), recorded 1",
            "not saved: the test failed (set record_on_failure to keep its recording)",
        ]
    )
    result.stdout.fnmatch_lines(["*not saved: *test_fails.json (test_fail.py::test_fails): the test failed*"])
    assert not (pytester.path / "cassettes").exists() or not any(
        (pytester.path / "cassettes").rglob("*.json")
    )


def test_the_printed_record_command_records_when_pasted(
    pytester: pytest.Pytester, claude_bin: Path, no_cli: str
) -> None:
    pytester.makepyfile(
        test_miss="""
        import pytest

        @pytest.mark.claude_cassette
        @pytest.mark.parametrize("x", ["a b/c"])
        def test_needs_recording(claude_executor, claude_api_stub, x):
            assert "hello " + x in claude_executor.run("hello " + x).result

        def test_unmarked(claude_executor):
            assert claude_executor.interceptor is None
        """
    )
    out_dir = "all cassettes"  # given on the command line: the printed command must repeat it
    # The CLI is given on the command line only (no_cli: nothing on PATH, no $CLAUDE_BIN).
    result = pytester.runpytest_subprocess(
        no_cli, f"--claude-cassette-dir={out_dir}", f"--claude-bin={claude_bin}"
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*CassetteMissError: Claude call #1 has no cassette to replay from*does not exist*",
            "*Record it with: pytest 'test_miss.py::test_needs_recording[[]a b/c]' "
            f"'--claude-cassette-dir=all cassettes' --claude-bin={claude_bin} --claude-record-mode=once*",
        ]
    )
    command = re.search(r"Record it with: (pytest .*--claude-record-mode=once)", result.stdout.str())
    assert command is not None
    argv = shlex.split(command.group(1))
    assert argv[0] == "pytest"
    # paste it as a user would, in the same directory and shell: still no claude on PATH, no $CLAUDE_BIN
    env = dict(os.environ)
    assert "CLAUDE_BIN" not in env
    pasted = subprocess.run(
        [sys.executable, "-m", *argv], cwd=pytester.path, env=env, capture_output=True, text=True, timeout=120
    )
    assert pasted.returncode == 0, pasted.stdout + pasted.stderr
    assert (
        "1 passed" in pasted.stdout and "0 call(s) replayed, 1 recorded, 1 cassette(s) saved" in pasted.stdout
    )
    recorded = list((pytester.path / out_dir).rglob("*.json"))
    assert len(recorded) == 1 and "test_needs_recording" in recorded[0].name
    # ...and the next run, still without a CLI, replays it
    again = pytester.runpytest_subprocess(no_cli, f"--claude-cassette-dir={out_dir}")
    again.assert_outcomes(passed=2)


def test_record_hint_repeats_the_switch_and_dir_that_came_from_the_environment(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, no_cli: str
) -> None:
    pytester.makepyfile(
        test_hint="""
        import pytest

        def test_unmarked(claude_executor):
            claude_executor.run("hi")

        @pytest.mark.claude_cassette
        def test_marked(claude_executor):
            claude_executor.run("hi")
        """
    )
    # typed inline (PYTEST_CLAUDE_CASSETTES=1 pytest ...), these do not reach a pasted command
    monkeypatch.setenv("PYTEST_CLAUDE_CASSETTES", "1")
    monkeypatch.setenv("PYTEST_CLAUDE_CASSETTE_DIR", "recs")
    result = pytester.runpytest_subprocess(no_cli)
    result.assert_outcomes(failed=2)
    hints = dict(re.findall(r"Record it with: pytest (test_hint.py::\w+) (.*)$", result.stdout.str(), re.M))
    where = f"--claude-cassette-dir={pytester.path / 'recs'}"
    assert hints == {
        "test_hint.py::test_unmarked": f"--claude-cassettes {where} --claude-record-mode=once",
        "test_hint.py::test_marked": f"{where} --claude-record-mode=once",  # marked: a cassette anyway
    }


def test_switch_applies_cassettes_to_every_executor_test(pytester: pytest.Pytester, no_cli: str) -> None:
    pytester.makepyfile(
        test_all="""
        def test_unmarked(claude_executor):
            assert claude_executor.interceptor is not None
            assert claude_executor.interceptor.mode == "once"
        """
    )
    pytester.makeini("[pytest]\nclaude_cassettes = true\nclaude_record_mode = once\n")
    pytester.runpytest_subprocess(no_cli).assert_outcomes(passed=1)


MODES_TEST = """
import pytest

@pytest.mark.claude_cassette(mode="new_episodes")
def test_marked(claude_cassette):
    print("MODE", claude_cassette.mode)

@pytest.mark.claude_cassette
def test_unmarked_mode(claude_cassette):
    print("MODE", claude_cassette.mode)
    assert "[REDACTED:custom]" in claude_cassette.scrubber.redactor.redact("id internal-42")
"""


def test_mode_precedence_cli_env_marker_ini_default(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, no_cli: str
) -> None:
    pytester.makepyfile(test_modes=MODES_TEST)

    def run(*args: str) -> str:
        result = pytester.runpytest_subprocess(no_cli, "-rA", *args)
        result.assert_outcomes(passed=2)
        return result.stdout.str()

    def sections(out: str) -> list[str]:
        return re.findall(r"^mode: (\S+ \(from [^)]+\))", out, flags=re.MULTILINE)

    pytester.makeini("[pytest]\nclaude_cassette_redact = internal-\\d+\n")
    out = run()
    assert "claude-cassettes: mode=none (default)" in out
    assert sections(out) == ["new_episodes (from the claude_cassette marker)", "none (from the default)"]

    pytester.makeini("[pytest]\nclaude_record_mode = once\nclaude_cassette_redact = internal-\\d+\n")
    out = run()  # the marker beats the ini
    assert "claude-cassettes: mode=once (ini)" in out
    assert sections(out) == [
        "new_episodes (from the claude_cassette marker)",
        "once (from ini claude_record_mode)",
    ]

    monkeypatch.setenv("PYTEST_CLAUDE_RECORD_MODE", "all")
    out = run()  # the env beats the marker
    assert "claude-cassettes: mode=all (env)" in out
    assert sections(out) == ["all (from $PYTEST_CLAUDE_RECORD_MODE)"] * 2

    out = run("--claude-record-mode=rewrite")  # the command line beats the env
    assert "claude-cassettes: mode=rewrite (cli)" in out
    assert sections(out) == ["rewrite (from --claude-record-mode)"] * 2


@pytest.mark.parametrize(
    ("ini", "env", "message"),
    [
        (
            "claude_record_mode = sometimes",
            {},
            "--claude-record-mode: invalid value 'sometimes' (from ini key claude_record_mode in *tox.ini): "
            "expected one of none, once*",
        ),
        (
            "claude_cassettes = maybe",
            {},
            "--claude-cassettes: invalid value 'maybe' (from ini key claude_cassettes in *tox.ini): "
            "expected a switch: 1/0, true/false, yes/no, on/off",
        ),
        (
            "claude_cassette_slim = sorta",
            {},
            "claude_cassette_slim: invalid value 'sorta' (from ini key claude_cassette_slim in *tox.ini): "
            "expected a switch: *",
        ),
        (
            "claude_record_mode = ALL",  # valid (case-insensitive), but the env var is not
            {"PYTEST_CLAUDE_RECORD_MODE": "sometimes"},
            "--claude-record-mode: invalid value 'sometimes' (from env PYTEST_CLAUDE_RECORD_MODE): expected "
            "one of*",
        ),
        (
            "claude_record_mode = nope",  # checked even when the env var overrides it
            {"PYTEST_CLAUDE_RECORD_MODE": "once"},
            "--claude-record-mode: invalid value 'nope' (from ini key claude_record_mode in *tox.ini)*",
        ),
        (
            "claude_cassette_redact =\n    ok-\\d+\n    [unclosed",
            {},
            "claude_cassette_redact: invalid value '[[]unclosed' (from ini key claude_cassette_redact in "
            "*tox.ini): not a regular expression: *",
        ),
        (
            "",
            {"PYTEST_CLAUDE_CASSETTES": "maybe"},
            "--claude-cassettes: invalid value 'maybe' (from env PYTEST_CLAUDE_CASSETTES): expected a "
            "switch*",
        ),
    ],
)
def test_bad_values_are_usage_errors_naming_option_value_and_source(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    no_cli: str,
    ini: str,
    env: dict[str, str],
    message: str,
) -> None:
    pytester.makefile(".ini", tox=f"[pytest]\n{ini}\n")
    pytester.makepyfile(test_x="def test_x(): pass")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = pytester.runpytest_subprocess(no_cli)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "claude_cassettes=maybe",
            "--claude-cassettes: invalid value 'maybe' (from -o claude_cassettes on the command line): "
            "expected a switch: *",
        ),
        (
            "claude_cassette_slim=nope",
            "claude_cassette_slim: invalid value 'nope' (from -o claude_cassette_slim on the command line): "
            "expected a switch: *",
        ),
        (
            "claude_record_mode=bogus",
            "--claude-record-mode: invalid value 'bogus' (from -o claude_record_mode on the command line): "
            "expected one of none*",
        ),
        (
            "claude_cassette_redact=(",
            "claude_cassette_redact: invalid value '(' (from -o claude_cassette_redact on the command line): "
            "not a regular expression: missing )*(one regex per line)",
        ),
    ],
)
def test_bad_overrides_are_usage_errors_at_start_up(
    pytester: pytest.Pytester, no_cli: str, override: str, message: str
) -> None:
    pytester.makepyfile(test_x="def test_x(claude_cassette): pass")
    result = pytester.runpytest_subprocess(no_cli, "-o", override)
    assert result.ret == pytest.ExitCode.USAGE_ERROR  # not an error in every test
    result.stderr.fnmatch_lines([f"ERROR: {message}"])


def test_bad_marker_mode_fails_its_test_even_when_the_command_line_wins(
    pytester: pytest.Pytester, no_cli: str
) -> None:
    pytester.makepyfile(
        test_bad_mode="""
        import pytest

        @pytest.mark.claude_cassette(mode="sometimes")
        def test_x(claude_cassette):
            pass
        """
    )
    result = pytester.runpytest_subprocess(no_cli, "--claude-record-mode=none")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*claude_cassette(mode=...): invalid value 'sometimes' (from the marker of "
            "test_bad_mode.py::test_x): expected one of none*"
        ]
    )


def test_marker_with_unknown_argument_is_an_error(pytester: pytest.Pytester, no_cli: str) -> None:
    pytester.makepyfile(
        test_bad="""
        import pytest

        @pytest.mark.claude_cassette(record_mode="once")
        def test_x(claude_cassette):
            pass
        """
    )
    result = pytester.runpytest_subprocess(no_cli)
    result.assert_outcomes(errors=1)  # fails in set-up, naming the test and the valid arguments
    result.stdout.fnmatch_lines(
        ["*test_bad.py::test_x: claude_cassette: unknown argument(s) record_mode; valid: allow_unused*"]
    )


def test_list_and_prune_unused_cassettes(pytester: pytest.Pytester, no_cli: str) -> None:
    pytester.makepyfile(
        test_keep="""
        import pytest

        @pytest.mark.claude_cassette
        def test_used(claude_executor):
            pass

        @pytest.mark.claude_cassette
        def test_deselected(claude_executor):
            pass
        """
    )
    files = {
        "used": _cassette(pytester, "test_keep", "test_used"),
        "deselected": _cassette(pytester, "test_keep", "test_deselected"),
        "stale": _cassette(pytester, "test_keep", "test_renamed_long_ago"),
        "orphan": _cassette(pytester, "test_removed_module", "test_x"),
    }
    for path in files.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    listed = pytester.runpytest_subprocess(no_cli, "--claude-cassettes-unused", "-k", "used")
    assert listed.ret == pytest.ExitCode.TESTS_FAILED
    listed.stdout.fnmatch_lines(["*2 unused cassette(s) (delete with --claude-prune-cassettes)*"])
    out = listed.stdout.str()
    assert str(files["stale"]) in out and str(files["orphan"]) in out
    assert str(files["used"]) not in out and str(files["deselected"]) not in out
    assert "passed" not in out  # listing runs no test

    narrowed = pytester.runpytest_subprocess(no_cli, "--claude-prune-cassettes", "test_keep.py::test_used")
    assert narrowed.ret == pytest.ExitCode.USAGE_ERROR and files["stale"].exists()

    pruned = pytester.runpytest_subprocess(no_cli, "--claude-prune-cassettes")
    assert pruned.ret == pytest.ExitCode.OK
    pruned.stdout.fnmatch_lines(["*pruned 2 unused cassette(s)*"])
    assert files["used"].exists() and files["deselected"].exists()
    assert not files["stale"].exists() and not files["orphan"].exists()
    clean = pytester.runpytest_subprocess(no_cli, "--claude-cassettes-unused")
    assert clean.ret == pytest.ExitCode.OK
    clean.stdout.fnmatch_lines(["*0 unused cassette(s)*"])


def test_help_lists_the_options(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(
        [
            "*--claude-record-mode=*",
            "*--claude-cassettes *",
            "*--claude-cassette-dir=*",
            "*--claude-cassettes-unused*",
            "*--claude-prune-cassettes*",
        ]
    )


def test_cassette_locations(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, no_cli: str) -> None:
    pytester.mkpydir("pkg")
    pytester.makepyfile(
        **{
            "pkg/test_where": """
            import pytest

            @pytest.mark.claude_cassette
            def test_default(claude_cassette, request):
                print("PATH=" + str(claude_cassette.path), "SLIM=" + str(claude_cassette.slim))

            @pytest.mark.claude_cassette(name="shared", dir="recordings", slim=False)
            def test_named(claude_cassette):
                print("PATH=" + str(claude_cassette.path), "SLIM=" + str(claude_cassette.slim))

            @pytest.mark.claude_cassette
            @pytest.mark.parametrize("key", ["sk-ant-api03-" + "Q" * 30])
            def test_secret_id(claude_cassette, key):
                assert key not in str(claude_cassette.path)
                assert "REDACTED-anthropic-key" in claude_cassette.path.name
            """
        }
    )
    default = pytester.runpytest_subprocess(no_cli, "-s")
    default.assert_outcomes(passed=3)
    default.stdout.fnmatch_lines(
        [
            f"*PATH={pytester.path}/pkg/cassettes/test_where/test_default.json SLIM=True*",  # the default
            f"*PATH={pytester.path}/pkg/recordings/shared.json SLIM=False*",
        ]
    )
    monkeypatch.setenv("PYTEST_CLAUDE_CASSETTE_DIR", "all-cassettes")
    pytester.makeini("[pytest]\nclaude_cassette_slim = false\n")  # full fidelity for the whole suite
    moved = pytester.runpytest_subprocess(no_cli, "-s")
    moved.assert_outcomes(passed=3)
    moved.stdout.fnmatch_lines(
        [
            "*claude-cassettes: mode=none (default), for marked tests, dir=*all-cassettes",
            f"*PATH={pytester.path}/all-cassettes/pkg/test_where/test_default.json SLIM=False*",
            f"*PATH={pytester.path}/pkg/recordings/shared.json*",  # the marker's dir wins
        ]
    )


def test_disabled_with_the_plugin(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_off="""
        def test_plain():
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:claude_sessions", "--claude-record-mode=once")
    assert result.ret == pytest.ExitCode.USAGE_ERROR  # the option does not exist without the plugin
    result.stderr.fnmatch_lines(["*unrecognized arguments: --claude-record-mode=once*"])
    pytester.runpytest_subprocess("-p", "no:claude_sessions").assert_outcomes(passed=1)


def _seed(path: Path, prompt: str, cli_version: str) -> bytes:
    """A valid cassette as an older CLI would have left it (one interaction)."""
    from pytest_claude_sessions.cassettes.files import CASSETTE_FORMAT, dump_cassette

    data = {
        "format": CASSETTE_FORMAT,
        "version": 1,
        "header": {"cli_version": cli_version, "recorded_at": "2026-01-01T00:00:00+00:00"},
        "interactions": [
            {
                "id": "old",
                "cli_version": cli_version,
                "request": {"kind": "new", "prompt": prompt, "output_format": "json", "options": {}},
                "response": {"returncode": 0, "stdout": {"text": ""}, "stderr": ""},
                "transcripts": [],
            }
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_cassette(data), encoding="utf-8")
    return path.read_bytes()


def test_rewrite_replaces_only_on_a_passing_run_and_warns_on_a_cli_change(
    pytester: pytest.Pytester, claude_bin: Path
) -> None:
    pytester.makepyfile(
        test_rw="""
        import pytest

        pytestmark = pytest.mark.claude_cassette

        def test_skips(claude_executor, claude_api_stub):
            claude_executor.run("hello")
            pytest.skip("not today")

        def test_fails(claude_executor, claude_api_stub):
            claude_executor.run("hello")
            assert False, "the agent misbehaved"

        def test_passes(claude_executor, claude_api_stub):
            claude_executor.run("hello")

        def test_no_longer_calls(claude_executor):
            pass
        """
    )
    old = {
        name: _seed(_cassette(pytester, "test_rw", name), "old prompt", "2.0.0-old")
        for name in ("test_skips", "test_fails", "test_passes", "test_no_longer_calls")
    }
    result = pytester.runpytest_subprocess(
        "--claude-record-mode=rewrite", f"--claude-bin={claude_bin}", "-rA"
    )
    result.assert_outcomes(passed=2, failed=1, skipped=1)
    assert not _cassette(pytester, "test_rw", "test_no_longer_calls").exists()  # stale: rewrite drops it
    result.stdout.fnmatch_lines(
        ["*removed: *test_no_longer_calls.json (test_rw.py::test_no_longer_calls): the test passed without*"]
    )
    for name in ("test_skips", "test_fails"):  # the old cassette survives a test that did not pass
        assert _cassette(pytester, "test_rw", name).read_bytes() == old[name]
    result.stdout.fnmatch_lines(
        [
            "*not saved: *test_skips.json (test_rw.py::test_skips): the test was skipped; "
            "the old cassette is kept",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*CassetteVersionWarning: cassette *test_passes.json was recorded with "
            "Claude CLI 2.0.0-old; record mode 'rewrite' re-records it with the "
            "installed CLI 2.*"
        ]
    )
    data = json.loads(_cassette(pytester, "test_rw", "test_passes").read_text(encoding="utf-8"))
    assert [i["request"]["prompt"] for i in data["interactions"]] == ["hello"]
    assert data["header"]["cli_version"] not in (None, "2.0.0-old")
    result.stdout.fnmatch_lines(
        [f"cassette: *test_passes.json (CLI {data['header']['cli_version']}; recorded *", "saved"]
    )


SHARED_TEST = """
import os
import time
from pathlib import Path

import pytest

# One cassette for both tests: matched on content, not on order (the other test's calls are in it too).
# Each test is its own xdist group: under --dist loadgroup each worker gets one of them at the start, so
# the barrier below always has its partner running on the other worker (it never waits for a test queued
# behind itself, whatever the load).
@pytest.mark.claude_cassette(
    name="shared", allow_unused=True, match_on="kind,prompt,output_format,session,options"
)
@pytest.mark.parametrize(
    "who", [pytest.param(who, marks=pytest.mark.xdist_group(who)) for who in ("Ann", "Bo")]
)
def test_shared(claude_executor, claude_api_stub, who, request):
    result = claude_executor.run(f"my name is {who}")
    assert who in result.result
    if result.replayed:
        return
    # a barrier: both workers finish (and save) together, so the saves really race
    barrier = request.config.rootpath / "barrier"
    barrier.mkdir(exist_ok=True)
    (barrier / who).write_text(os.environ.get("PYTEST_XDIST_WORKER", "none"))
    deadline = time.monotonic() + 1800  # only turns a dead partner worker into a failure, not a hang
    while len(list(barrier.iterdir())) < 2:
        assert time.monotonic() < deadline, "the other worker never arrived (did it die?)"
        time.sleep(0.01)
"""


def test_xdist_workers_append_to_one_cassette_without_corrupting_it(
    pytester: pytest.Pytester, claude_bin: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pytester.makepyfile(test_shared=SHARED_TEST)
    args = ("-n", "2", "--dist", "loadgroup", "-p", "no:randomly")
    recorded = pytester.runpytest_subprocess(
        "--claude-record-mode=new_episodes", f"--claude-bin={claude_bin}", *args
    )
    recorded.assert_outcomes(passed=2)
    workers = {p.read_text() for p in (pytester.path / "barrier").iterdir()}
    assert workers == {"gw0", "gw1"}  # two processes, at the same time
    path = _cassette(pytester, "test_shared", "shared")
    data = json.loads(path.read_text(encoding="utf-8"))  # whole, valid JSON
    assert sorted(i["request"]["prompt"] for i in data["interactions"]) == ["my name is Ann", "my name is Bo"]
    assert [p.name for p in path.parent.iterdir()] == ["shared.json"]  # no temp files left

    hide_every_claude(monkeypatch, tmp_path)
    before = path.read_bytes()
    replayed = pytester.runpytest_subprocess(*args)
    replayed.assert_outcomes(passed=2)
    replayed.stdout.fnmatch_lines(["*2 call(s) replayed, 0 recorded*"])
    assert path.read_bytes() == before


def test_unused_cassettes_in_a_cassette_dir(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, no_cli: str
) -> None:
    pytester.makepyfile(
        **{
            "tests/test_kept": """
            import pytest

            @pytest.mark.claude_cassette
            def test_used(claude_executor):
                pass
            """,
            "tests/sub/test_deep": """
            import pytest

            @pytest.mark.claude_cassette
            def test_deep(claude_executor):
                pass
            """,
        }
    )
    store = pytester.path / "store"
    files = {
        "used": store / "tests" / "test_kept" / "test_used.json",
        "deep": store / "tests" / "sub" / "test_deep" / "test_deep.json",  # a package's dir, not an orphan
        "stale": store / "tests" / "test_kept" / "test_gone.json",
        "orphan": store / "tests" / "test_removed" / "test_x.json",
    }
    for path in files.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    monkeypatch.setenv("PYTEST_CLAUDE_CASSETTE_DIR", "store")
    listed = pytester.runpytest_subprocess(no_cli, "--claude-cassettes-unused", "tests")
    assert listed.ret == pytest.ExitCode.TESTS_FAILED
    out = listed.stdout.str()
    listed.stdout.fnmatch_lines(["*2 unused cassette(s) (delete with --claude-prune-cassettes)*"])
    assert str(files["stale"]) in out and str(files["orphan"]) in out
    assert str(files["used"]) not in out and str(files["deep"]) not in out


PROBE_CONFTEST = """
import sys

def pytest_terminal_summary(terminalreporter, config):
    # (not redact: every library error redacts its message, and a missing CLI is one at start-up)
    heavy = ("cassettes.recorder", "cassettes.files", "cassettes.scrub", "cassettes.matching")
    loaded = sorted(
        name.rsplit(".", 1)[1] for name in sys.modules
        if name.removeprefix("pytest_claude_sessions.") in heavy
    )
    hooks = [name for name in ("claude_sessions_per_test", "claude_sessions_collector")
             if config.pluginmanager.has_plugin(name)]
    terminalreporter.write_line(f"probe: modules={loaded} hooks={hooks}")
"""


def test_a_suite_without_cassettes_imports_and_registers_nothing_per_test(
    pytester: pytest.Pytester, no_cli: str
) -> None:
    pytester.makeconftest(PROBE_CONFTEST)
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    plain = pytester.runpytest_subprocess(no_cli, "-p", "no:randomly")
    plain.assert_outcomes(passed=1)
    assert "probe: modules=[] hooks=[]" in plain.outlines
    plain.stdout.no_fnmatch_line("*claude cassettes*")

    # the fixture registers the per-test hooks before its setup report: the test's cassette is reported
    pytester.makepyfile(test_uses="def test_uses(claude_cassette):\n    pass\n")
    mixed = pytester.runpytest_subprocess(no_cli, "-p", "no:randomly", "-rA")
    mixed.assert_outcomes(passed=2)
    mixed.stdout.fnmatch_lines(
        [
            "*claude cassette*",
            "mode: none (from the default); replayed 0 call(s), recorded 0",
            "*mode none: 1 test(s) with cassettes, 0 call(s) replayed, 0 recorded, 0 cassette(s) saved*",
        ]
    )
    probe = next(line for line in mixed.outlines if line.startswith("probe: "))
    assert "'recorder'" in probe and "'matching'" in probe, probe
    assert probe.endswith("hooks=['claude_sessions_per_test', 'claude_sessions_collector']")


def test_a_cli_found_through_claude_bin_env_is_named_in_the_record_command(
    pytester: pytest.Pytester, claude_bin: Path, no_cli: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$CLAUDE_BIN of this shell does not reach a pasted command in another: the command names the CLI."""
    pytester.makepyfile(
        test_miss="""
        import pytest

        @pytest.mark.claude_cassette
        def test_needs_recording(claude_executor):
            claude_executor.run("hello")

        @pytest.mark.claude_cassette
        def test_agent_needs_recording(claude_cli):
            import subprocess
            subprocess.run(["claude", "-p", "hello"], capture_output=True, timeout=60)
        """
    )
    monkeypatch.setenv("CLAUDE_BIN", str(claude_bin))
    result = pytester.runpytest_subprocess(no_cli, "-p", "no:asyncio")
    result.assert_outcomes(failed=2)
    for test in ("test_needs_recording", "test_agent_needs_recording"):
        command = f"pytest test_miss.py::{test} --claude-bin={claude_bin} --claude-record-mode=once"
        result.stdout.fnmatch_lines([f"*Record it with: {command}*"])
