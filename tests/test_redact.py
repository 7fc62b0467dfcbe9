"""Redactor: default secret patterns, user patterns and callbacks, nested objects."""

from __future__ import annotations

import re

import pytest

from pytest_claude_sessions.redact import RedactionRule, Redactor, marker


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
