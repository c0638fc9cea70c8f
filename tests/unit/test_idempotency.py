"""The execution cache's pure helpers: where a request's idempotency key comes from, and the
fingerprint that tells a retry from a different request under the same key."""

from __future__ import annotations

import pytest
from tornado.httputil import HTTPHeaders

from kernelagent.core.errors import AgentError
from kernelagent.idempotency import MAX_KEY_LENGTH, fingerprint, idempotency_key


def headers(key: str | None = None, name: str = "Idempotency-Key") -> HTTPHeaders:
    h = HTTPHeaders()
    if key is not None:
        h[name] = key
    return h


def test_key_from_the_header_or_the_body_field():
    assert idempotency_key(headers("h1"), None) == "h1"
    assert idempotency_key(headers(), "b1") == "b1"
    assert idempotency_key(headers("h1"), "b1") == "h1"  # the header wins


@pytest.mark.parametrize("name", ["idempotency-key", "IDEMPOTENCY-KEY", "Idempotency-Key"])
def test_header_name_is_case_insensitive(name):
    assert idempotency_key(headers("k", name), None) == "k"


@pytest.mark.parametrize("header, body_key", [(None, None), (None, ""), ("", None), ("", "")])
def test_no_key(header, body_key):
    assert idempotency_key(headers(header), body_key) is None


def test_longest_key_is_accepted():
    assert idempotency_key(headers(), "k" * MAX_KEY_LENGTH) == "k" * MAX_KEY_LENGTH
    assert idempotency_key(headers("k" * MAX_KEY_LENGTH), None) == "k" * MAX_KEY_LENGTH


@pytest.mark.parametrize("header, body_key", [(None, "k" * (MAX_KEY_LENGTH + 1)), ("k" * (MAX_KEY_LENGTH + 1), None)])
def test_too_long_keys_are_a_400(header, body_key):
    with pytest.raises(AgentError) as exc:
        idempotency_key(headers(header), body_key)
    assert exc.value.status == 400 and exc.value.code == "INVALID_REQUEST"
    assert str(MAX_KEY_LENGTH) in exc.value.message


def request(**body) -> dict:
    return {"endpoint": "/execute", "body": {"code": "print(1)", "language": "python", **body}}


def test_fingerprint_ignores_key_order_at_every_depth():
    a = {"endpoint": "/execute", "body": {"code": "1", "env": {"A": "1", "B": "2"}, "timeout": 5}}
    b = {"body": {"timeout": 5, "env": {"B": "2", "A": "1"}, "code": "1"}, "endpoint": "/execute"}
    assert fingerprint(a) == fingerprint(b)


@pytest.mark.parametrize(
    "other",
    [
        request(code="print(2)"),
        request(code="print(1) "),
        request(language="bash"),
        request(timeout=5),
        request(env={"A": "1"}),
        {**request(), "endpoint": "/execute/background"},  # the same body to another endpoint
    ],
)
def test_fingerprint_changes_with_the_request(other):
    assert fingerprint(other) != fingerprint(request())


def test_fingerprint_tells_types_apart_and_is_a_stable_sha256_hex():
    assert fingerprint(request(timeout=5)) != fingerprint(request(timeout="5"))
    assert fingerprint(request(env=None)) != fingerprint(request())
    fp = fingerprint(request())
    assert len(fp) == 64 and int(fp, 16) >= 0
    assert fingerprint(request()) == fp
