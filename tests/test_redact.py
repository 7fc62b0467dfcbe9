"""Redactor: default secret patterns, user patterns and callbacks, nested objects."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import pytest
from hypothesis import assume, given, settings, strategies as st

from pytest_claude_sessions.errors import (
    ClaudeProcessError,
    ClaudeTimeoutError,
    InvalidSessionIdError,
    SessionNotFoundError,
)
from pytest_claude_sessions.redact import RedactionRule, Redactor, env_secrets, marker


@pytest.mark.parametrize(
    ("text", "secret", "name"),
    [
        (
            "key=sk-ant-api03-AbCdEf0123456789_xyz-QQ end",
            "sk-ant-api03-AbCdEf0123456789_xyz-QQ",
            "anthropic-key",
        ),
        ("openai sk-proj-abcdefghij0123456789ABCD ok", "sk-proj-abcdefghij0123456789ABCD", "openai-key"),
        ("old style sk-abcdefghijklmnop0123456789", "sk-abcdefghijklmnop0123456789", "openai-key"),
        (
            "Authorization: Bearer eyJhbGciOi.JIUzI1NiJ9-abc_def",
            "eyJhbGciOi.JIUzI1NiJ9-abc_def",
            "bearer-token",
        ),
        ("aws AKIAIOSFODNN7EXAMPLE here", "AKIAIOSFODNN7EXAMPLE", "aws-access-key"),
        ("aws ASIAY34FZKBOKMUTVV7A here", "ASIAY34FZKBOKMUTVV7A", "aws-access-key"),
        ("x-api-key: abc123secretvalue", "abc123secretvalue", "api-key"),
        ('{"x-api-key": "abc123secretvalue"}', "abc123secretvalue", "api-key"),
    ],
)
def test_default_rules_remove_the_secret_and_leave_a_marker(text: str, secret: str, name: str) -> None:
    out = Redactor().redact(text)
    assert secret not in out
    assert marker(name) in out


def test_anthropic_key_is_not_reported_as_openai() -> None:
    out = Redactor().redact("sk-ant-api03-abcdefghijklmnopqrstuvwxyz")
    assert out == "[REDACTED:anthropic-key]"


def test_bearer_keeps_the_prefix_readable() -> None:
    assert Redactor().redact("Bearer abcdefgh12345678") == "Bearer [REDACTED:bearer-token]"


def test_plain_text_is_untouched() -> None:
    text = "Ask about skiing, task-ant, AKIA short, a bearer of news, 'sk-' prefix alone."
    assert Redactor().redact(text) == text


def test_user_patterns_named_and_unnamed_and_callback() -> None:
    r = Redactor(
        [
            r"ticket-\d+",
            ("employee", re.compile(r"EMP\d{4}")),
            RedactionRule("pin", re.compile(r"pin=(\d+)"), 1),
        ],
        callback=lambda s: s.replace("Alice", "[NAME]"),
    )
    out = r.redact("Alice filed ticket-42 for EMP1234 with pin=9876 and sk-ant-abcdefghijkl")
    assert out == (
        "[NAME] filed [REDACTED:custom] for [REDACTED:employee] with pin=[REDACTED:pin] "
        "and [REDACTED:anthropic-key]"
    )


def test_defaults_can_be_disabled() -> None:
    assert Redactor(defaults=False).redact("sk-ant-abcdefghijklmnop") == "sk-ant-abcdefghijklmnop"


def test_invalid_pattern_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"invalid redaction pattern '\(unclosed'"):
        Redactor(["(unclosed"])


def test_callback_must_return_a_string() -> None:
    r = Redactor(callback=lambda s: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match="returned NoneType"):
        r.redact("x")


def test_redact_obj_walks_nested_values_and_masks_sensitive_keys() -> None:
    data = {
        "headers": {
            "Authorization": "Bearer abcdefgh12345678",
            "X-Api-Key": "whatever-it-is",
            "Accept": "json",
        },
        "messages": [{"content": "my key is sk-ant-abcdefghijklmn"}, ("AKIAIOSFODNN7EXAMPLE", 3)],
        "count": 3,
        "flag": None,
    }
    original = repr(data)
    out = Redactor().redact_obj(data)
    assert repr(data) == original  # input untouched
    assert out["headers"]["Authorization"] == "[REDACTED:authorization]"
    assert out["headers"]["X-Api-Key"] == "[REDACTED:x-api-key]"
    assert out["headers"]["Accept"] == "json"
    assert out["messages"][0]["content"] == "my key is [REDACTED:anthropic-key]"
    assert out["messages"][1] == ("[REDACTED:aws-access-key]", 3)
    assert out["count"] == 3
    assert out["flag"] is None


def test_redact_rejects_non_strings() -> None:
    with pytest.raises(TypeError, match="takes a str"):
        Redactor().redact(b"bytes")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the rules of issue 10

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.mark.parametrize(
    ("text", "secret", "name"),
    [
        (f"aws_secret_access_key = {AWS_SECRET}", AWS_SECRET, "aws-secret-key"),
        (f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}", AWS_SECRET, "aws-secret-key"),
        (f'{{"SecretAccessKey": "{AWS_SECRET}"}}', AWS_SECRET, "aws-secret-key"),
        (f"the aws secret is {AWS_SECRET}.", AWS_SECRET, "aws-secret-key"),
        ("password=hunter22 next", "hunter22", "secret-assignment"),
        ("GITHUB_TOKEN=ghp_0123456789abcdef", "ghp_0123456789abcdef", "secret-assignment"),
        ('{"client_secret": "s3cr\\"et"}', 's3cr\\"et', "secret-assignment"),
        ("api_key: 'abc'", "abc", "secret-assignment"),
        ("git clone https://bob:p@ss@example.com/repo.git", "bob:p@ss", "url-credentials"),
        ("https://x-access-token:ghs_abc123@github.com/o/r", "ghs_abc123", "url-credentials"),
        (
            "https://ghp_abcdefghijklmnopqrstuvwxyz@github.com/o/r",
            "ghp_abcdefghijklmnopqrstuvwxyz",
            "url-credentials",
        ),
    ],
)
def test_aws_secrets_assignments_and_url_credentials(text: str, secret: str, name: str) -> None:
    out = Redactor(env={}).redact(text)
    assert secret not in out
    assert marker(name) in out


@pytest.mark.parametrize(
    "text",
    [
        "max_tokens=1000, input_tokens: 5, output_tokens=7",  # names that merely contain "token"
        "commit 3f2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c after the secret meeting",  # a lower-case SHA
        "see https://example.com:8443/path?q=1 and mail@example.com",
        '{"apiKeySource": "none", "cache_read_input_tokens": 12}',  # the CLI's own JSON
        "the secret of good tests",
    ],
)
def test_ordinary_text_that_looks_close_is_kept(text: str) -> None:
    assert Redactor(env={}).redact(text) == text


def test_json_stays_valid_after_redaction() -> None:
    data = {"password": 'ab"c\\d', "nested": {"token": "tok_12345678"}, "msg": "Bearer abcdefghijkl"}
    out = Redactor(env={}).redact(json.dumps(data))
    parsed = json.loads(out)
    assert parsed["password"] == marker("secret-assignment")
    assert "tok_12345678" not in out and "abcdefghijkl" not in out


def test_redacting_twice_changes_nothing() -> None:
    r = Redactor(env={"MY_TOKEN": "literal-secret-value"})
    text = f"password=hunter22 Bearer abcdefghijk {AWS_SECRET} secret literal-secret-value sk-ant-abcdefghijk"
    once = r.redact(text)
    assert r.redact(once) == once


def test_env_key_variables_are_masked_literally() -> None:
    env = {
        "ANTHROPIC_API_KEY": "plain-looking-value",  # matches no pattern: only the literal rule finds it
        "MY_SERVICE_TOKEN": "tok9876543",
        "DB_PASSWORD": "correct horse",
        "SHORT_TOKEN": "1234567",  # under 8 characters: ordinary text would be mangled
        "HOME": "/home/user-with-a-long-name",  # not a key variable
    }
    r = Redactor(env=env)
    out = r.redact("a plain-looking-value, tok9876543, correct horse, 1234567 in /home/user-with-a-long-name")
    assert out == (
        f"a {marker('secret-env')}, {marker('secret-env')}, {marker('secret-env')}, 1234567 in "
        "/home/user-with-a-long-name"
    )
    assert set(env_secrets(env)) == {"plain-looking-value", "tok9876543", "correct horse"}
    assert "plain-looking-value" not in repr(r)  # a repr lands in tracebacks


def test_the_environment_is_read_when_the_redactor_is_made(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDE_CODE_OAUTH_TOKEN", "oauth-value-123")
    assert Redactor().redact("x oauth-value-123 y") == f"x {marker('secret-env')} y"
    child = Redactor(env={}).with_env({"AWS_SESSION_TOKEN": "session-value-456"})
    assert child.redact("session-value-456") == marker("secret-env")


def test_a_json_escaped_literal_secret_is_masked_in_json_text() -> None:
    secret = 'quo"te\\back-slash'
    r = Redactor(env={"X_API_KEY": secret})
    out = r.redact(json.dumps({"v": f"before {secret} after"}))
    assert json.loads(out) == {"v": f"before {marker('secret-env')} after"}


def test_with_patterns_keeps_the_rules_and_the_literals() -> None:
    r = Redactor(env={"A_TOKEN": "literal-value-1"}).with_patterns([("ticket", r"T-\d+")])
    assert r.redact("T-42 literal-value-1 sk-ant-abcdefghijk") == (
        f"{marker('ticket')} {marker('secret-env')} {marker('anthropic-key')}"
    )


def test_dict_keys_are_redacted_and_never_merged() -> None:
    key = "sk-ant-api03-AbCdEf0123456789"
    data = {key: {"agent": "a"}, marker("anthropic-key"): 2, "sk-ant-zzzzzzzzzzzz": 3, 7: "x"}
    out = Redactor(env={}).redact_obj(data)
    assert out == {
        marker("anthropic-key"): {"agent": "a"},
        marker("anthropic-key") + "#2": 2,
        marker("anthropic-key") + "#3": 3,
        7: "x",
    }


def test_redact_obj_handles_any_depth() -> None:
    deep: Any = "sk-ant-abcdefghijklmn"
    for i in range(5000):  # far deeper than the recursion limit
        deep = {f"k{i}": [deep]} if i % 2 else ({"Bearer abcdefghijk": deep},)
    out = Redactor(env={}).redact_obj(deep)
    text = json.dumps(out) if sys.getrecursionlimit() > 20000 else None
    assert text is None or "abcdefghijk" not in text
    for i in range(4999, -1, -1):  # walk back down without recursion
        if i % 2:
            assert isinstance(out, dict) and list(out) == [f"k{i}"]
            out = out[f"k{i}"][0]
        else:
            assert isinstance(out, tuple) and list(out[0]) == [f"Bearer {marker('bearer-token')}"]
            out = out[0][f"Bearer {marker('bearer-token')}"]
    assert out == marker("anthropic-key")


# --------------------------------------------------------------------------- properties

_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+"
_SEPARATORS = st.sampled_from([" ", "\n", "\t", '"', "'", ",", ";", "(", ")", "[", "]", "{", "}", "<", ">"])


@st.composite
def planted(draw: st.DrawFn) -> tuple[str, str, dict[str, str]]:
    """(the carrier text holding the secret, the secret, the env the redactor gets)."""
    word = st.text(
        alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-", min_size=8, max_size=40
    )
    kind = draw(
        st.sampled_from(["anthropic", "bearer", "aws-id", "aws-secret", "assign", "url", "env", "env-any"])
    )
    if kind == "anthropic":
        secret = "sk-ant-" + draw(word)
        return secret, secret, {}
    if kind == "bearer":
        secret = draw(st.text(alphabet=_B64 + "-._~", min_size=8, max_size=60))
        return f"{draw(st.sampled_from(['Bearer', 'bearer', 'BEARER']))} {secret}", secret, {}
    if kind == "aws-id":
        secret = draw(st.sampled_from(["AKIA", "ASIA"])) + draw(
            st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", min_size=16, max_size=16)
        )
        return secret, secret, {}
    if kind == "aws-secret":
        body = draw(st.text(alphabet=_B64, min_size=37, max_size=37))
        secret = "aB3" + body  # mixed case and a digit, as every real one
        prefix = draw(
            st.sampled_from(["aws_secret_access_key=", "AWS_SECRET_ACCESS_KEY = ", "secret: ", "secret key "])
        )
        return prefix + secret, secret, {}
    if kind == "assign":
        secret = draw(st.text(alphabet=_B64 + "-_.!~*", min_size=4, max_size=40))
        name = draw(
            st.sampled_from(["password", "token", "secret", "api_key", "DB_PASSWORD", "client_secret"])
        )
        form = draw(st.sampled_from(["{}={}", "{}: {}", '"{}": "{}"', "{} = '{}'"]))
        return form.format(name, secret), secret, {}
    if kind == "url":
        user = draw(st.text(alphabet=_B64.replace("/", "") + "-._~", min_size=1, max_size=20))
        password = draw(st.text(alphabet=_B64.replace("/", "") + "-._~!$&*@", min_size=1, max_size=20))
        secret = f"{user}:{password}"
        return f"https://{secret}@example.com/path", secret, {}
    if kind == "env":
        secret = draw(word)
        name = draw(st.sampled_from(["ANTHROPIC_API_KEY", "AWS_SECRET_ACCESS_KEY", "MY_TOKEN", "X_SECRET"]))
        return secret, secret, {name: secret}
    secret = draw(st.text(min_size=8, max_size=30).filter(lambda s: s.strip() == s and len(s.strip()) >= 8))
    return secret, secret, {"SOME_SERVICE_API_KEY": secret}


def _strings(obj: Any) -> list[str]:
    """Every string in a JSON-like value, keys included (iteratively)."""
    out: list[str] = []
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return out


@given(
    plant=planted(),
    before=st.text(max_size=30),
    after=st.text(max_size=30),
    sep=_SEPARATORS,
    sep2=_SEPARATORS,
)
@settings(max_examples=400, deadline=None)
def test_a_planted_secret_never_survives_anywhere_in_a_string(
    plant: tuple[str, str, dict[str, str]], before: str, after: str, sep: str, sep2: str
) -> None:
    carrier, secret, env = plant
    assume(secret not in before and secret not in after)  # the surrounding text may not hold it by chance
    r = Redactor(env=env)
    for text in (
        carrier,
        before + sep + carrier,
        carrier + sep2 + after,
        before + sep + carrier + sep2 + after,
    ):
        out = r.redact(text)
        assert secret not in out, (text, out)
        assert r.redact(out) == out  # idempotent


@given(
    plant=planted(),
    path=st.lists(st.sampled_from(["dict", "list", "tuple"]), max_size=6),
    as_key=st.booleans(),
)
@settings(max_examples=300, deadline=None)
def test_a_planted_secret_never_survives_anywhere_in_an_object(
    plant: tuple[str, str, dict[str, str]], path: list[str], as_key: bool
) -> None:
    carrier, secret, env = plant
    obj: Any = {carrier: "value"} if as_key else {"key": carrier}
    for shape in path:
        obj = (
            {"k": obj, f"x {carrier}": 1} if shape == "dict" else [1, obj] if shape == "list" else (obj, "y")
        )
    out = Redactor(env=env).redact_obj(obj)
    leaks = [s for s in _strings(out) if secret in s]
    assert leaks == []


# --------------------------------------------------------------------------- error texts


def test_process_errors_never_carry_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """argv (the prompt), stderr and stdout are redacted before they enter the message, then cut."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "plain-looking-api-key-value")
    prompt = "deploy with Authorization: Bearer abcdefghijklmnop and password=hunter22"
    noise = "x" * 3000
    stderr = f"error: invalid key plain-looking-api-key-value\n{noise}\nkey sk-ant-api03-abcdefghijklmn"
    exc = ClaudeProcessError(
        "the CLI failed", argv=["claude", "-p", "--", prompt], returncode=1, stdout="", stderr=stderr
    )
    for text in (str(exc), repr(exc), repr(exc.argv), exc.stderr, exc.stdout):
        for secret in ("abcdefghijklmnop", "hunter22", "plain-looking-api-key-value", "sk-ant-api03"):
            assert secret not in text
    assert marker("anthropic-key") in str(exc)  # the tail is kept, redacted
    timeout = ClaudeTimeoutError(5, argv=["claude", "-p", "--", prompt], stdout="Bearer abcdefghijklmnop")
    assert "abcdefghijklmnop" not in str(timeout) and "hunter22" not in str(timeout)


def test_every_library_error_redacts_its_message() -> None:
    exc = SessionNotFoundError("no session for agent sk-ant-api03-abcdefghijklmn", session_id="x")
    assert str(exc) == f"no session for agent {marker('anthropic-key')}"
    bad = InvalidSessionIdError("password=hunter22")
    assert "hunter22" not in str(bad)


def test_a_callers_redactor_adds_the_users_patterns() -> None:
    r = Redactor([("ticket", r"T-\d+")], env={})
    exc = ClaudeProcessError("failed", argv=["claude", "--", "about T-123"], stderr="T-456", redactor=r)
    assert "T-123" not in str(exc) and "T-456" not in exc.stderr


def test_redact_id_masks_a_secret_keeps_ids_distinct_and_is_idempotent() -> None:
    redactor = Redactor(env={})
    assert redactor.redact_id("tests/test_a.py::test_x[plain]") == "tests/test_a.py::test_x[plain]"
    one = redactor.redact_id("test_x[sk-ant-api03-" + "A" * 40 + "]")
    two = redactor.redact_id("test_x[sk-ant-api03-" + "B" * 40 + "]")
    assert "AAAA" not in one and "BBBB" not in two
    assert one.startswith("test_x[[REDACTED:anthropic-key]]~") and one != two
    assert redactor.redact_id(one) == one
