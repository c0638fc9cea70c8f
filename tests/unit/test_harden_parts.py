"""Pure pieces of the hardening: size bounds known before decoding, redacted access logs, kept results."""

from __future__ import annotations

import base64

import pytest

from kernelagent.api.base import redact
from kernelagent.jobs.job import kept_result
from kernelagent.metrics import KNOWN_METHODS
from kernelagent.models.files import WriteRequest


@pytest.mark.parametrize("raw", [b"", b"a", b"ab", b"abc", b"abcd", bytes(range(256)) * 3])
def test_least_size_of_base64_is_exact(raw):
    req = WriteRequest(path="/tmp/x", content=base64.b64encode(raw).decode(), encoding="base64")
    assert req.least_size() == len(raw) == len(req.data())


@pytest.mark.parametrize("text", ["", "abc", "é" * 10, "\U0001f600 x"])
def test_least_size_of_text_is_a_lower_bound(text):
    req = WriteRequest(path="/tmp/x", content=text)
    assert req.least_size() <= len(req.data())


@pytest.mark.parametrize(
    "uri, expected",
    [
        ("/terminal?token=abc.def.ghi", "/terminal?token=[redacted]"),
        ("/files/watch?x=1&token=abc&y=2", "/files/watch?x=1&token=[redacted]&y=2"),
        ("/execute/stream?TOKEN=abc", "/execute/stream?TOKEN=[redacted]"),
        ("/files/read?path=/tmp/token=1", "/files/read?path=/tmp/token=1"),
    ],
)
def test_query_tokens_are_redacted(uri, expected):
    assert redact(uri) == expected


def test_kept_result_holds_to_its_budget():
    big = {"type": "text/html", "data": {"text/html": "x" * 5000}, "metadata": {}}
    small = {"type": "text/plain", "data": {"text/plain": "y"}, "metadata": {}}
    answer = {
        "success": True,
        "stdout": "s" * 9000,
        "result": "r" * 3000,
        "rich_outputs": [small, big],
        "html": "x" * 5000,
    }
    kept = kept_result(answer, 4000)  # type: ignore[arg-type]
    assert kept["result"].startswith("r" * 3000) and kept["rich_outputs"] == [small]
    assert "html" not in kept and "stdout" not in kept and kept["truncated"] is True
    whole = kept_result(answer, 1 << 20)  # type: ignore[arg-type]
    assert whole["rich_outputs"] == [small, big] and whole["html"] == answer["html"] and "truncated" not in whole


def test_methods_known_to_metrics():
    assert {"GET", "POST", "DELETE"} <= KNOWN_METHODS and "FOO" not in KNOWN_METHODS
