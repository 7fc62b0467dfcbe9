"""Markers merged along the node chain: the closest marker wins per keyword, farther ones fill the rest.

Inner pytest runs (pytester, ``--strict-markers``, with and without xdist); no CLI is needed: the
cassette is inspected through its fixture, chains are recorded through the tracker.
"""

from __future__ import annotations

import pytest

INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"


@pytest.fixture(params=[[], ["-n", "2"]], ids=["no_xdist", "xdist_two"])
def dist(request: pytest.FixtureRequest) -> list[str]:
    return list(request.param)


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makeini(INI)
    return pytester.runpytest("-p", "no:cacheprovider", "--strict-markers", *args)


CASSETTE_SUITE = """
import pytest

pytestmark = pytest.mark.claude_cassette(dir="shared", allow_unused=False, slim=False)

@pytest.mark.claude_cassette(allow_unused=True)
def test_function_marker_keeps_the_module_dir(claude_cassette, request):
    assert claude_cassette.path.parent == request.path.parent / "shared"
    assert claude_cassette.allow_unused is True  # the closest marker wins this keyword
    assert claude_cassette.slim is False  # ...and the module's fills the ones it leaves out

class TestClass:
    pytestmark = pytest.mark.claude_cassette(name="from-class", allow_unused=True)

    @pytest.mark.claude_cassette(dir="closest")
    def test_three_levels(self, claude_cassette, request):
        assert claude_cassette.path == request.path.parent / "closest" / "from-class.json"
        assert claude_cassette.allow_unused is True and claude_cassette.slim is False

def test_module_marker_alone(claude_cassette, request):
    assert claude_cassette.path.parent == request.path.parent / "shared"
    assert claude_cassette.allow_unused is False
"""


def test_claude_cassette_keywords_merge_module_class_and_function(
    pytester: pytest.Pytester, dist: list[str]
) -> None:
    pytester.makepyfile(test_merge=CASSETTE_SUITE)
    result = run(pytester, *dist)
    result.assert_outcomes(passed=3)


SESSION_BUDGET_SUITE = """
import pytest

SID = "11111111-2222-4333-8444-%012d"

pytestmark = [pytest.mark.claude_session(agent="module-agent"), pytest.mark.claude_budget(max_calls=1)]

@pytest.mark.claude_session(expect_continuity=True)
class TestMerged:
    @pytest.mark.claude_budget(max_cost_usd=1.0)
    def test_agent_from_module_budget_from_both(self, session_tracker):
        assert session_tracker.agent_id == "module-agent"  # the module fills the class's gap
        session_tracker.update_session(SID % 1, "a", "r", cost_usd=0.01)
        session_tracker.update_session(SID % 2, "b", "r", cost_usd=0.01)  # a second call: max_calls=1

    @pytest.mark.claude_session(agent="own")
    def test_closest_agent_wins(self, session_tracker):
        assert session_tracker.agent_id == "own"
        session_tracker.update_session(SID % 3, "c", "r", cost_usd=0.01)
"""


def test_claude_session_and_budget_keywords_merge(pytester: pytest.Pytester, dist: list[str]) -> None:
    pytester.makepyfile(test_merge=SESSION_BUDGET_SUITE)
    result = run(pytester, *dist, "--claude-report=full")
    # The first breaks continuity (two new sessions: the class's expect_continuity applies) and the
    # module's max_calls=1 (merged with the method's max_cost_usd); the second has one step and passes.
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*claude_budget exceeded: calls 2 > max_calls 1*"])
    result.stdout.fnmatch_lines(["*session chain is not continuous:*"])
    result.stdout.fnmatch_lines(["*test_closest_agent_wins  passed*continuity ok*"])


def test_bad_keyword_on_a_farther_marker_names_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_bad="""
        import pytest

        pytestmark = pytest.mark.claude_cassette(directory="typo")

        @pytest.mark.claude_cassette(allow_unused=True)
        def test_x(claude_cassette):
            pass
        """
    )
    result = run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*test_bad.py::test_x: claude_cassette: unknown argument(s) directory; valid: allow_unused*"]
    )


def test_marker_merge_unit(pytester: pytest.Pytester) -> None:
    """``markers.merged`` on real items: closest first, farther ones fill in, None when unmarked."""
    pytester.makepyfile(
        test_unit="""
        import pytest

        pytestmark = pytest.mark.claude_budget(max_turns=3, max_calls=2)

        @pytest.mark.claude_budget(max_calls=5)
        def test_a():
            pass

        def test_b():
            pass
        """
    )
    pytester.makeini(INI)
    items, _ = pytester.inline_genitems()
    from pytest_claude_sessions.plugin.markers import merged

    by_name = {item.name: item for item in items}
    assert merged(by_name["test_a"], "claude_budget") == {"max_calls": 5, "max_turns": 3}
    assert merged(by_name["test_b"], "claude_budget") == {"max_turns": 3, "max_calls": 2}
    assert merged(by_name["test_b"], "claude_cassette") is None


def test_marker_dir_is_relative_to_the_module(pytester: pytest.Pytester) -> None:
    pytester.mkpydir("pkg")
    pytester.makepyfile(
        **{
            "pkg/test_where": """
            import pytest

            pytestmark = pytest.mark.claude_cassette(dir="recordings")

            @pytest.mark.claude_cassette(name="one")
            def test_named(claude_cassette, request):
                assert claude_cassette.path == request.path.parent / "recordings" / "one.json"
            """
        }
    )
    run(pytester).assert_outcomes(passed=1)
