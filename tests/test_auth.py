"""JWT auth: every failure mode gets its 401 code; /health is the one open endpoint."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest
from conftest import SECRET, make_token
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa


def _get(agent, path="/info", headers=None):
    return httpx.get(agent.url + path, headers=headers or {}, timeout=10)


def _assert_envelope(r: httpx.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.headers.get("x-request-id")
    body = r.json()
    assert body["code"] == code
    assert body["error"] and body["message"] == body["error"]
    assert body["request_id"] == r.headers["x-request-id"]
    assert body["timestamp"].endswith("Z")
    return body


def test_health_is_open(agent):
    r = _get(agent, "/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "healthy"
    assert "python" in body["languages"]
    assert body["pool"]["python"]["target"] >= 1
    assert r.headers["content-type"].startswith("application/json")


def test_missing_token(agent):
    _assert_envelope(_get(agent), 401, "AUTHENTICATION_REQUIRED")
    _assert_envelope(_get(agent, headers={"Authorization": "Basic abc"}), 401, "AUTHENTICATION_REQUIRED")


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        make_token(secret="another-secret-" + "y" * 40),
        make_token(ttl=-3600),
        jwt.encode({"sub": "x", "exp": int(time.time()) + 600}, key="", algorithm="none"),
        jwt.encode({"sub": "x", "exp": int(time.time()) + 600}, SECRET, algorithm="HS512"),
        jwt.encode({"sub": "x"}, SECRET, algorithm="HS256"),  # no exp
    ],
)
def test_bad_tokens(agent, token):
    _assert_envelope(_get(agent, headers={"Authorization": f"Bearer {token}"}), 401, "INVALID_TOKEN")


@pytest.mark.parametrize("exp", [str(int(time.time()) + 600), "soon", True, None, [1], {"a": 1}])
def test_exp_of_the_wrong_type_is_refused_every_time(agent, exp):
    """A numeric string passes pyjwt's own check; it must be a 401, and stay one once cached."""
    token = jwt.encode({"sub": "x", "exp": exp}, SECRET, algorithm="HS256")
    for _ in range(2):
        _assert_envelope(_get(agent, headers={"Authorization": f"Bearer {token}"}), 401, "INVALID_TOKEN")


def test_auth_before_work(agent, tmp_path):
    marker = tmp_path / "ran"
    r = httpx.post(
        agent.url + "/execute",
        json={"code": f"open({str(marker)!r}, 'w').write('x')"},
        headers={"Authorization": "Bearer nope"},
        timeout=10,
    )
    assert r.status_code == 401
    assert not marker.exists()


def test_unknown_path_is_404_envelope(agent):
    _assert_envelope(agent.get("/no/such/thing"), 404, "RESOURCE_NOT_FOUND")


def test_request_id_echoed(agent):
    r = agent.get("/info", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"


def test_sdk_with_bad_token_raises(agent):
    from hopx_ai import Sandbox
    from hopx_ai.errors import HopxError

    sb = Sandbox.debug(agent_url=agent.url, jwt_token="bad")
    with pytest.raises(HopxError):
        sb.run_code("1")


def _pem_public(key) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def test_public_key_auth_pins_algorithm(agent_factory, tmp_path):
    """EdDSA key: its tokens pass; an HS256 token signed with the PEM text as secret (key confusion) fails."""
    key = ed25519.Ed25519PrivateKey.generate()
    pem = _pem_public(key)
    a = agent_factory(jwt_public_key=pem, jwt_secret="", jwt_audience="sandbox-1", pool_size=0)
    now = int(time.time())
    good = jwt.encode({"exp": now + 600, "aud": "sandbox-1"}, key, algorithm="EdDSA")
    assert _get(a, headers={"Authorization": f"Bearer {good}"}).status_code == 200
    wrong_aud = jwt.encode({"exp": now + 600, "aud": "other"}, key, algorithm="EdDSA")
    _assert_envelope(_get(a, headers={"Authorization": f"Bearer {wrong_aud}"}), 401, "INVALID_TOKEN")
    import base64
    import hashlib
    import hmac
    import json as _json

    def b64(b: bytes) -> str:
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    head = b64(_json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(_json.dumps({"exp": now + 600, "aud": "sandbox-1"}).encode())
    sig = b64(hmac.new(pem.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest())
    _assert_envelope(_get(a, headers={"Authorization": f"Bearer {head}.{body}.{sig}"}), 401, "INVALID_TOKEN")


def test_rsa_public_key(agent_factory):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    a = agent_factory(jwt_public_key=_pem_public(key), jwt_secret="", pool_size=0)
    token = jwt.encode({"exp": int(time.time()) + 600}, key, algorithm="RS256")
    assert _get(a, headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_root_lists_endpoints(agent):
    body = agent.get("/").json()
    assert body["agent"] == "kernelagent"
    assert {"/execute", "/health", "/files/read", "/terminal"} <= set(body["endpoints"])
    assert _get(agent, "/").status_code == 401
