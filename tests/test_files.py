"""Files through HTTP and the hopx-ai SDK: every endpoint, the path policy, atomic writes and
uploads, streamed large files, and /files/watch. The real server, the real disk."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import stat
import time
import uuid
from datetime import datetime
from pathlib import Path

import pytest
import websockets
from conftest import start_agent

BINARY = bytes(range(256)) * 64 + b"\r\n--boundary\r\n\x00\xff" * 100  # every byte, and boundary-ish runs
ENVELOPE = {"error", "message", "code", "request_id", "timestamp", "path", "details"}


def fresh(agent, *parts: str) -> Path:
    """A new directory in the workspace for one test."""
    d = agent.workspace / f"t-{uuid.uuid4().hex[:8]}"
    d.mkdir()
    return d.joinpath(*parts) if parts else d


def assert_error(r, status: int, code: str):
    assert r.status_code == status, r.text
    body = r.json()
    assert body.keys() >= ENVELOPE, body
    assert body["code"] == code, body
    assert r.headers["content-type"].startswith("application/json")
    assert r.headers.get("x-request-id") == body["request_id"]
    return body


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    """A private agent whose only roots are its workspace, one /proc/sys directory (for a real
    EACCES as root) and /dev/full (for a real ENOSPC); small read and upload limits; no kernels."""
    base = tmp_path_factory.mktemp("strict")
    a = start_agent(
        base,
        {
            "KERNELAGENT_ALLOWED_ROOTS": "{workspace},/proc/sys/vm,/dev/full",
            "KERNELAGENT_MAX_READ_BYTES": "1000",
            "KERNELAGENT_MAX_UPLOAD_BYTES": str(1 << 20),
            "KERNELAGENT_MAX_BODY_BYTES": str(256 << 10),
            "KERNELAGENT_MAX_LIST_ENTRIES": "5",
            "KERNELAGENT_MAX_TRANSFERS": "1",
            "KERNELAGENT_WARM_LANGUAGES": "",
        },
    )
    yield a
    a.close()


# --- write, read, download ------------------------------------------------------------------


def test_write_read_text_creates_parents_and_applies_mode(agent):
    target = fresh(agent, "deep", "er", "a.txt")
    r = agent.post("/files/write", {"path": str(target), "content": "héllo\nwörld", "mode": "0600"})
    assert r.status_code == 200, r.text
    assert r.json()["success"] is True and r.json()["size"] == len("héllo\nwörld".encode())
    assert target.read_text() == "héllo\nwörld"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    r = agent.get("/files/read", params={"path": str(target)})
    assert r.status_code == 200
    assert r.json()["content"] == "héllo\nwörld" and r.json()["size"] == 13


def test_overwrite_keeps_no_temp_files(agent):
    target = fresh(agent, "f.txt")
    for text in ("one", "two", "three"):
        assert agent.post("/files/write", {"path": str(target), "content": text}).status_code == 200
    assert target.read_text() == "three"
    assert sorted(p.name for p in target.parent.iterdir()) == ["f.txt"]


def test_binary_round_trip_write_base64_and_download(agent):
    target = fresh(agent, "bin.dat")
    r = agent.post(
        "/files/write",
        {"path": str(target), "content": base64.b64encode(BINARY).decode(), "encoding": "base64", "mode": "0644"},
    )
    assert r.status_code == 200, r.text
    assert target.read_bytes() == BINARY
    r = agent.get("/files/download", params={"path": str(target)})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/octet-stream"
    assert int(r.headers["content-length"]) == len(BINARY)
    assert r.content == BINARY
    # read can also answer in base64 when asked
    small = fresh(agent, "small.bin")
    small.write_bytes(b"\x00\xff\x10")
    assert agent.get("/files/read", params={"path": str(small), "encoding": "base64"}).json()["content"] == "AP8Q"


def _read_http_response(s: socket.socket, buf: bytes = b"") -> tuple[int, dict[str, str], bytes, bytes]:
    """One response off a keep-alive socket: status, headers, body (by Content-Length), leftover."""
    while b"\r\n\r\n" not in buf:
        data = s.recv(1 << 16)
        assert data, f"connection closed: {buf[:200]!r}"
        buf += data
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers["content-length"])
    chunks, got = [rest], len(rest)
    while got < length:
        data = s.recv(1 << 20)
        assert data, f"connection closed after {got} of {length} bytes"
        chunks.append(data)
        got += len(data)
    body = b"".join(chunks)
    return int(lines[0].split()[1]), headers, body[:length], body[length:]


def test_large_download_on_a_keep_alive_connection(agent):
    """A multi-MiB download (sent with sendfile) twice on one connection, then another request on
    it: the framing stays exact and the connection stays usable."""
    target = fresh(agent, "big.bin")
    data = os.urandom(3 << 20) + BINARY
    target.write_bytes(data)
    host, port = agent.url.removeprefix("http://").split(":")
    request = (
        f"GET /files/download?path={target} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {agent.token}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port))) as s:
        left = b""
        for _ in range(2):
            s.sendall(request)
            status, headers, body, left = _read_http_response(s, left)
            assert status == 200 and int(headers["content-length"]) == len(data)
            assert body == data
        assert left == b""
        s.sendall(f"GET /health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        status, _, body, _ = _read_http_response(s, left)
        assert status == 200 and json.loads(body)["status"] == "healthy"


def test_download_client_going_away_mid_transfer(agent):
    """The client reads a little of a large download and hangs up: the agent stays healthy, logs
    no error, and serves the same file whole to the next caller."""
    target = fresh(agent, "cut.bin")
    data = os.urandom(1 << 20) * 48
    target.write_bytes(data)
    host, port = agent.url.removeprefix("http://").split(":")
    log_before = agent.log.read_text(errors="replace")
    for _ in range(3):
        with socket.create_connection((host, int(port))) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)
            s.sendall(
                (
                    f"GET /files/download?path={target} HTTP/1.1\r\nHost: {host}\r\n"
                    f"Authorization: Bearer {agent.token}\r\n\r\n"
                ).encode()
            )
            assert s.recv(1 << 16).startswith(b"HTTP/1.1 200")
            time.sleep(0.2)  # the agent fills the socket buffers and waits on us
    r = agent.get("/files/download", params={"path": str(target)})
    assert r.status_code == 200 and r.content == data
    assert agent.get("/health").status_code == 200
    time.sleep(0.3)
    new_log = agent.log.read_text(errors="replace")[len(log_before) :]
    assert "Traceback" not in new_log and "ERROR" not in new_log, new_log


def test_write_errors(agent):
    d = fresh(agent)
    assert_error(agent.post("/files/write", {"content": "x"}), 400, "MISSING_PARAMETER")
    assert_error(agent.post("/files/write", {"path": str(d / "x")}), 400, "MISSING_PARAMETER")
    assert_error(
        agent.post("/files/write", {"path": str(d / "x"), "content": "!!", "encoding": "base64"}),
        400,
        "INVALID_REQUEST",
    )
    assert_error(
        agent.post("/files/write", {"path": str(d / "x"), "content": "x", "mode": "rwx"}), 400, "INVALID_REQUEST"
    )
    assert_error(agent.post("/files/write", {"path": str(d), "content": "x"}), 400, "INVALID_PATH")
    assert_error(
        agent.post("/files/write", content=b"{not json", headers={"Content-Type": "application/json"}),
        400,
        "INVALID_JSON",
    )
    (d / "file").write_text("old")
    assert_error(agent.post("/files/write", {"path": str(d / "file" / "under"), "content": "x"}), 400, "INVALID_PATH")
    assert_error(agent.post("/files/write", {"path": "/etc/kernelagent-test", "content": "x"}), 403, "PATH_NOT_ALLOWED")
    assert not os.path.exists("/etc/kernelagent-test")
    # a failed write leaves the old content
    assert_error(
        agent.post("/files/write", {"path": str(d / "file"), "content": "%%%", "encoding": "base64"}),
        400,
        "INVALID_REQUEST",
    )
    assert (d / "file").read_text() == "old"
    r = agent.post("/files/write", {"path": str(d / "file"), "content": "new", "overwrite": False})
    assert_error(r, 409, "FILE_ALREADY_EXISTS")


def test_read_and_download_errors(agent):
    d = fresh(agent)
    missing = str(d / "nope.txt")
    body = assert_error(agent.get("/files/read", params={"path": missing}), 404, "FILE_NOT_FOUND")
    assert body["details"]["path"] == missing and body["error"] == f"File not found: {missing}"
    assert_error(agent.get("/files/download", params={"path": missing}), 404, "FILE_NOT_FOUND")
    assert_error(agent.get("/files/read", params={"path": str(d)}), 400, "INVALID_PATH")
    assert_error(agent.get("/files/download", params={"path": str(d)}), 400, "INVALID_PATH")
    assert_error(agent.get("/files/read"), 400, "MISSING_PARAMETER")
    assert_error(agent.get("/files/read", params={"path": ""}), 400, "MISSING_PARAMETER")


def test_read_too_large_points_to_download(strict):
    f = strict.workspace / "big.txt"
    f.write_text("x" * 5000)
    body = assert_error(strict.get("/files/read", params={"path": str(f)}), 413, "FILE_TOO_LARGE")
    assert "/files/download" in body["message"] and body["details"]["limit"] == 1000
    r = strict.get("/files/download", params={"path": str(f)})
    assert r.status_code == 200 and r.content == b"x" * 5000


def test_write_body_over_the_limit_is_413_in_the_envelope(strict):
    """A /files/write body over max_body_bytes (256 KiB here) is a 413 in the contract's envelope
    pointing to /files/upload, with a Content-Length and without one (chunked); nothing is written."""
    target = strict.workspace / "big-write.txt"
    target.write_text("old")
    body = json.dumps({"path": str(target), "content": "x" * (300 << 10)}).encode()
    r = strict.post("/files/write", content=body, headers={"Content-Type": "application/json"})
    err = assert_error(r, 413, "FILE_TOO_LARGE")
    assert "/files/upload" in err["message"] and err["details"]["limit"] == 256 << 10
    assert r.headers.get("connection") == "close"  # refused unread: the agent closes, and says so
    r = strict.post(
        "/files/write",
        content=iter([body[i : i + (16 << 10)] for i in range(0, len(body), 16 << 10)]),
        headers={"Content-Type": "application/json"},
    )
    assert_error(r, 413, "FILE_TOO_LARGE")
    assert target.read_text() == "old"
    small = json.dumps({"path": str(target), "content": "new"}).encode()  # just under the limit still works,
    r = strict.post(
        "/files/write",
        content=iter([small[:10], small[10:]]),  # chunked too
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text
    assert target.read_text() == "new"


def test_permission_denied_and_disk_full(strict):
    # root gets EACCES reading this write-only proc file
    assert_error(strict.get("/files/read", params={"path": "/proc/sys/vm/compact_memory"}), 403, "PERMISSION_DENIED")
    # /dev/full answers every write with ENOSPC; a character device is written in place, not replaced
    body = assert_error(
        strict.post("/files/write", {"path": "/dev/full", "content": "x" * 100}), 507, "INSUFFICIENT_STORAGE"
    )
    assert body["details"]["path"] == "/dev/full"
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


# --- path policy ----------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["/files/read", "/files/download", "/files/list", "/files/exists"])
def test_path_policy_on_every_get(agent, endpoint):
    ws = agent.workspace
    link = fresh(agent, "etc-link")
    link.symlink_to("/etc")
    file_link = fresh(agent, "passwd-link")
    file_link.symlink_to("/etc/passwd")
    refused = [
        "/etc/passwd",
        "/etc",
        "/root",
        f"{ws}/../../../../../../../../../../etc/passwd",
        f"{ws}/../{ws.name}/../../../../../../../../../../etc",
        "/proc/self/root/etc/passwd",
        f"/proc/self/root{ws}/../../../../../../../../../../etc/passwd",
        f"{link}/passwd",
        str(link),
        str(file_link),
    ]
    for path in refused:
        assert_error(agent.get(endpoint, params={"path": path}), 403, "PATH_NOT_ALLOWED")
    assert_error(agent.get(endpoint, params={"path": "etc/passwd"}), 400, "INVALID_PATH")
    assert_error(agent.get(endpoint, params={"path": "./x"}), 400, "INVALID_PATH")
    assert_error(agent.get(endpoint, params={"path": f"{ws}/a\0b"}), 400, "INVALID_PATH")
    assert_error(agent.get(endpoint + "?path=" + f"{ws}/x%00/../../etc/passwd"), 400, "INVALID_PATH")


def test_path_policy_on_writes(agent):
    link = fresh(agent, "etc-link")
    link.symlink_to("/etc")
    dangling = fresh(agent, "dangling")
    dangling.symlink_to("/etc/kernelagent-created-through-link")
    for path in (f"{link}/x", str(dangling), "/proc/self/root/etc/kernelagent-x", "/root/x", "rel/x", "/etc/x\0"):
        r = agent.post("/files/write", {"path": path, "content": "x"})
        assert r.status_code in (400, 403), r.text
        r = agent.post("/files/mkdir", {"path": path})
        assert r.status_code in (400, 403), r.text
        r = agent.post("/files/upload", files={"file": ("x", b"x")}, data={"path": path})
        assert r.status_code in (400, 403), r.text
    assert not os.path.lexists("/etc/kernelagent-created-through-link")
    assert not os.path.lexists("/etc/x") and not os.path.lexists("/etc/kernelagent-x")
    assert_error(agent.delete("/files/remove", params={"path": "/etc/hostname"}), 403, "PATH_NOT_ALLOWED")
    assert_error(agent.delete("/files/remove", params={"path": str(agent.workspace)}), 403, "PATH_NOT_ALLOWED")
    assert agent.workspace.is_dir()


def test_sibling_prefix_refused(strict):
    ws = strict.workspace
    sibling = ws.parent / (ws.name + "2")
    sibling.mkdir()
    (sibling / "secret.txt").write_text("s")
    assert_error(strict.get("/files/read", params={"path": str(sibling / "secret.txt")}), 403, "PATH_NOT_ALLOWED")
    assert_error(strict.get("/files/list", params={"path": str(sibling)}), 403, "PATH_NOT_ALLOWED")
    assert_error(strict.post("/files/write", {"path": str(sibling / "w.txt"), "content": "x"}), 403, "PATH_NOT_ALLOWED")
    assert not (sibling / "w.txt").exists()
    # /tmp is not a root of this agent, though it is of the default one
    assert_error(strict.get("/files/exists", params={"path": "/tmp"}), 403, "PATH_NOT_ALLOWED")
    # a symlink inside the workspace to a place inside it is fine
    (ws / "real.txt").write_text("inside")
    (ws / "alias.txt").symlink_to(ws / "real.txt")
    assert strict.get("/files/read", params={"path": str(ws / "alias.txt")}).json()["content"] == "inside"


# --- list, exists, remove, mkdir ------------------------------------------------------------


def test_list_directory(agent):
    d = fresh(agent)
    (d / "b.txt").write_text("12345")
    (d / "a-dir").mkdir()
    (d / "link").symlink_to(d / "b.txt")
    r = agent.get("/files/list", params={"path": str(d)})
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 3 and body["path"] == str(d)
    by_name = {f["name"]: f for f in body["files"]}
    assert by_name["b.txt"]["size"] == 5 and by_name["b.txt"]["is_directory"] is False
    assert by_name["b.txt"]["path"] == str(d / "b.txt")
    assert by_name["b.txt"]["permissions"].startswith("-rw")
    assert by_name["a-dir"]["is_directory"] is True
    assert by_name["link"]["is_symlink"] is True
    for f in body["files"]:
        assert datetime.fromisoformat(f["modified_time"].replace("Z", "+00:00")).tzinfo is not None
    # default path is the workspace
    names = [f["name"] for f in agent.get("/files/list").json()["files"]]
    assert d.name in names
    assert_error(agent.get("/files/list", params={"path": str(d / "missing")}), 404, "DIRECTORY_NOT_FOUND")
    assert_error(agent.get("/files/list", params={"path": str(d / "b.txt")}), 400, "INVALID_PATH")


def test_list_is_capped_at_max_list_entries(strict):
    d = strict.workspace / "many"
    d.mkdir()
    for name in ["h", "c", "a", "g", "e", "b", "f", "d"]:
        (d / name).write_text(name)
    body = strict.get("/files/list", params={"path": str(d)}).json()
    assert body["truncated"] is True and body["total"] == 8 and body["count"] == 5
    assert [f["name"] for f in body["files"]] == ["a", "b", "c", "d", "e"]  # the first by name
    assert "max_list_entries" in body["message"]
    for name in "defgh":
        (d / name).unlink()
    body = strict.get("/files/list", params={"path": str(d)}).json()
    assert body["truncated"] is False and body["count"] == 3 and "total" not in body


def test_exists(agent):
    d = fresh(agent)
    (d / "f").write_text("x")
    for path, exists, is_dir in ((d / "f", True, False), (d, True, True), (d / "nope", False, False)):
        r = agent.get("/files/exists", params={"path": str(path)})
        assert r.status_code == 200
        assert r.json()["exists"] is exists and r.json()["is_directory"] is is_dir


def test_remove_file_directory_and_symlink(agent):
    d = fresh(agent)
    (d / "f").write_text("x")
    (d / "tree" / "sub").mkdir(parents=True)
    (d / "tree" / "sub" / "g").write_text("y")
    (d / "target").write_text("keep me")
    (d / "link").symlink_to(d / "target")
    assert agent.delete("/files/remove", params={"path": str(d / "f")}).json()["success"] is True
    assert not (d / "f").exists()
    assert agent.delete("/files/remove", params={"path": str(d / "tree")}).status_code == 200
    assert not (d / "tree").exists()
    assert agent.delete("/files/remove", params={"path": str(d / "link")}).status_code == 200
    assert not (d / "link").is_symlink() and (d / "target").read_text() == "keep me"
    body = assert_error(agent.delete("/files/remove", params={"path": str(d / "f")}), 404, "FILE_NOT_FOUND")
    assert body["details"]["path"] == str(d / "f")
    # a link in the workspace pointing outside may itself be removed; its target is untouched
    (d / "out").symlink_to("/etc/hostname")
    assert agent.delete("/files/remove", params={"path": str(d / "out")}).status_code == 200
    assert os.path.exists("/etc/hostname")


def test_mkdir(agent):
    d = fresh(agent)
    r = agent.post("/files/mkdir", {"path": str(d / "a" / "b" / "c")})
    assert r.status_code == 200 and r.json()["success"] is True
    assert (d / "a" / "b" / "c").is_dir()
    assert agent.post("/files/mkdir", {"path": str(d / "a")}).status_code == 200  # like mkdir -p
    (d / "file").write_text("x")
    assert_error(agent.post("/files/mkdir", {"path": str(d / "file")}), 409, "FILE_ALREADY_EXISTS")
    assert_error(agent.post("/files/mkdir", {"path": str(d / "file" / "sub")}), 400, "INVALID_PATH")
    assert_error(agent.post("/files/mkdir", {}), 400, "MISSING_PARAMETER")


# --- upload ---------------------------------------------------------------------------------


def test_upload_binary_round_trip(agent):
    target = fresh(agent, "sub", "up.bin")
    r = agent.post(
        "/files/upload", files={"file": ("up.bin", BINARY, "application/octet-stream")}, data={"path": str(target)}
    )
    assert r.status_code == 200, r.text
    assert r.json()["size"] == len(BINARY) and r.json()["path"] == str(target)
    assert target.read_bytes() == BINARY
    assert agent.get("/files/download", params={"path": str(target)}).content == BINARY


def _multipart(boundary: str, parts: list[tuple[str, str | None, bytes]]) -> bytes:
    out = b""
    for name, filename, data in parts:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disp}\r\n\r\n".encode() + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def test_upload_path_after_file_and_in_query(agent):
    d = fresh(agent)
    body = _multipart("XyZ", [("file", "a.bin", BINARY), ("path", None, str(d / "late.bin").encode())])
    r = agent.post("/files/upload", content=body, headers={"Content-Type": "multipart/form-data; boundary=XyZ"})
    assert r.status_code == 200, r.text
    assert (d / "late.bin").read_bytes() == BINARY
    body = _multipart("q", [("file", "a.bin", b"from query")])
    r = agent.post(
        "/files/upload",
        params={"path": str(d / "q.bin")},
        content=body,
        headers={"Content-Type": "multipart/form-data; boundary=q"},
    )
    assert r.status_code == 200 and (d / "q.bin").read_bytes() == b"from query"


def test_upload_errors_leave_old_content(agent):
    d = fresh(agent)
    target = d / "keep.txt"
    target.write_text("old content")
    ctype = {"Content-Type": "multipart/form-data; boundary=B"}
    # no closing boundary: the body ended early
    cut = _multipart("B", [("path", None, str(target).encode()), ("file", "k", b"new!" * 1000)])[:-20]
    assert_error(agent.post("/files/upload", content=cut, headers=ctype), 400, "INVALID_REQUEST")
    # no path, no file, not multipart
    assert_error(
        agent.post("/files/upload", content=_multipart("B", [("file", "k", b"x")]), headers=ctype),
        400,
        "MISSING_PARAMETER",
    )
    assert_error(
        agent.post("/files/upload", content=_multipart("B", [("path", None, str(target).encode())]), headers=ctype),
        400,
        "MISSING_PARAMETER",
    )
    assert_error(
        agent.post("/files/upload", content=b"plain", headers={"Content-Type": "text/plain"}), 400, "INVALID_REQUEST"
    )
    assert target.read_text() == "old content"
    assert sorted(p.name for p in d.iterdir()) == ["keep.txt"]


def test_upload_size_limit(strict):
    target = strict.workspace / "limited.bin"
    target.write_text("old")
    r = strict.post("/files/upload", files={"file": ("x", b"x" * ((1 << 20) + 10))}, data={"path": str(target)})
    assert_error(r, 413, "FILE_TOO_LARGE")
    assert target.read_text() == "old"


def test_interrupted_upload_leaves_old_content(agent):
    d = fresh(agent)
    target = d / "data.bin"
    target.write_bytes(b"old content")
    boundary = "cutcutcut"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="path"\r\n\r\n{target}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="d"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    sent = 3 << 20  # enough that chunks reach the temp file before the cut
    host, port = agent.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as s:
        s.sendall(
            (
                f"POST /files/upload HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {agent.token}\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                f"Content-Length: {len(head) + (100 << 20)}\r\n\r\n"
            ).encode()
            + head
        )
        chunk = b"N" * (1 << 20)
        for _ in range(sent >> 20):
            s.sendall(chunk)
        # wait until the agent has started the temp file, so the cut really interrupts a write
        deadline = time.monotonic() + 30
        while not any(p.name.endswith(".part") for p in d.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert any(p.name.endswith(".part") for p in d.iterdir())
    deadline = time.monotonic() + 30
    while sorted(p.name for p in d.iterdir()) != ["data.bin"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(p.name for p in d.iterdir()) == ["data.bin"]  # the temp file is gone
    assert target.read_bytes() == b"old content"
    assert agent.get("/files/exists", params={"path": str(target)}).status_code == 200  # agent still serves


def test_transfers_at_once_are_capped(strict):
    """An upload in progress holds the one transfer slot: a download waits its turn with 429."""
    target = strict.workspace / "slot.bin"
    target.write_bytes(b"x" * 1000)
    host, port = strict.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as s:
        s.sendall(
            (
                f"POST /files/upload HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {strict.token}\r\n"
                "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 5000\r\n\r\n--b\r\n"
            ).encode()
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            r = strict.get("/files/download", params={"path": str(target)})
            if r.status_code == 429:
                break
            time.sleep(0.05)
        assert_error(r, 429, "RATE_LIMIT_EXCEEDED")
    deadline = time.monotonic() + 10
    while strict.get("/files/download", params={"path": str(target)}).status_code != 200:
        assert time.monotonic() < deadline, "the slot was not given back when the upload's client left"
        time.sleep(0.05)
    for _ in range(3):  # finished downloads give their slot back too
        assert strict.get("/files/download", params={"path": str(target)}).content == b"x" * 1000


# --- watch ----------------------------------------------------------------------------------


async def _ws_events(agent, path: str, action, until, timeout: float = 20.0) -> list[dict]:
    """Open /files/watch on path, poke until the watch is live, run action, collect until done."""
    url = agent.url.replace("http://", "ws://") + "/files/watch"
    events: list[dict] = []
    async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {agent.token}"}) as ws:
        await ws.send(json.dumps({"action": "watch", "path": path}))
        deadline = time.monotonic() + timeout
        poke = Path(path) / f".poke-{uuid.uuid4().hex[:6]}"
        while True:  # the watch is live once a poke is seen
            poke.write_text("p")
            try:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 0.3))
                if msg.get("path") == str(poke):
                    break
            except TimeoutError:
                pass
            assert time.monotonic() < deadline, "watch never became live"
        poke.unlink()
        await asyncio.to_thread(action)
        while not until(events):
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"events so far: {events}"
            try:
                msg = json.loads(await asyncio.wait_for(ws.recv(), remaining))
            except TimeoutError:
                break
            if not str(msg.get("path", "")).startswith(str(poke)):
                events.append(msg)
    return events


def _has(events, event, path):
    return any(e["event"] == event and e["path"] == str(path) for e in events)


def test_watch_create_modify_rename_delete(agent):
    d = fresh(agent)
    a, b = d / "a.txt", d / "b.txt"

    def action():
        a.write_text("1")
        with a.open("a") as f:
            f.write("2")
        os.rename(a, b)
        b.unlink()

    events = asyncio.run(_ws_events(agent, str(d), action, lambda ev: _has(ev, "deleted", b)))
    assert _has(events, "created", a)
    assert _has(events, "modified", a)
    renamed = [e for e in events if e["event"] == "renamed"]
    assert renamed and renamed[0]["path"] == str(a) and renamed[0]["new_path"] == str(b)
    for e in events:
        assert e["type"] == "change" and datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")).tzinfo


def test_watch_reports_api_writes_as_created_then_modified(agent):
    d = fresh(agent)
    target = d / "api.txt"

    def action():
        agent.post("/files/write", {"path": str(target), "content": "v1"})
        agent.post("/files/write", {"path": str(target), "content": "v2"})

    events = asyncio.run(_ws_events(agent, str(d), action, lambda ev: _has(ev, "modified", target)))
    assert _has(events, "created", target)
    assert not any(".part" in e["path"] for e in events), events  # the temp files stay hidden


def test_watch_errors_and_several_watchers(agent):
    async def main():
        url = agent.url.replace("http://", "ws://") + "/files/watch"
        hdr = {"Authorization": f"Bearer {agent.token}"}
        async with websockets.connect(url, additional_headers=hdr) as ws:
            await ws.send(json.dumps({"action": "watch", "path": "/etc"}))
            msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert msg["type"] == "error" and msg["code"] == "PATH_NOT_ALLOWED"
            await ws.send("not json")
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["code"] == "INVALID_JSON"
        with pytest.raises(websockets.InvalidStatus) as info:
            async with websockets.connect(url):
                pass
        assert info.value.response.status_code == 401
        # two watchers of one directory both see an event; closing one leaves the other working
        d = fresh(agent)
        async with (
            websockets.connect(url, additional_headers=hdr) as w1,
            websockets.connect(url, additional_headers=hdr) as w2,
        ):
            for w in (w1, w2):
                await w.send(json.dumps({"action": "watch", "path": str(d)}))
            seen: dict[int, set] = {1: set(), 2: set()}
            deadline = time.monotonic() + 20
            i = 0
            while not (seen[1] and seen[2]):
                assert time.monotonic() < deadline
                i += 1
                (d / f"f{i}").write_text("x")
                for n, w in ((1, w1), (2, w2)):
                    try:
                        seen[n].add(json.loads(await asyncio.wait_for(w.recv(), 0.3))["path"])
                    except TimeoutError:
                        pass
            await w1.close()
            marker = d / "after-close"
            marker.write_text("x")
            while True:
                msg = json.loads(await asyncio.wait_for(w2.recv(), 10))
                if msg["path"] == str(marker):
                    break

    asyncio.run(main())


# --- the SDK --------------------------------------------------------------------------------


def test_sdk_files(agent, sdk):
    from hopx_ai.errors import FileNotFoundError as HopxFileNotFound
    from hopx_ai.errors import FileOperationError

    d = fresh(agent)
    sdk.files.write(str(d / "t.txt"), "hello from the sdk")
    assert sdk.files.read(str(d / "t.txt")) == "hello from the sdk"
    sdk.files.write_bytes(str(d / "b.bin"), BINARY)
    assert (d / "b.bin").read_bytes() == BINARY
    assert sdk.files.read_bytes(str(d / "b.bin")) == BINARY
    local = d.parent / f"local-{d.name}.bin"
    local.write_bytes(BINARY)
    sdk.files.upload(str(local), str(d / "up" / "u.bin"))
    assert (d / "up" / "u.bin").read_bytes() == BINARY
    back = d.parent / f"back-{d.name}.bin"
    sdk.files.download(str(d / "up" / "u.bin"), str(back))
    assert back.read_bytes() == BINARY
    sdk.files.mkdir(str(d / "m" / "n"))
    assert sdk.files.exists(str(d / "m" / "n")) is True
    assert sdk.files.exists(str(d / "missing")) is False
    assert sdk.files.exists("/etc/passwd") is False  # refused, which the SDK reports as False
    listing = {f.name: f for f in sdk.files.list(str(d))}
    assert {"t.txt", "b.bin", "up", "m"} <= listing.keys()
    assert listing["m"].is_directory and listing["t.txt"].size == len("hello from the sdk")
    assert listing["t.txt"].modified_time.tzinfo is not None
    sdk.files.remove(str(d / "m"))
    assert not (d / "m").exists()

    with pytest.raises(HopxFileNotFound):
        sdk.files.read(str(d / "missing.txt"))
    with pytest.raises(HopxFileNotFound):
        sdk.files.remove(str(d / "missing.txt"))
    with pytest.raises(FileOperationError) as info:
        sdk.files.read("/etc/passwd")
    assert info.value.code == "PATH_NOT_ALLOWED"
    with pytest.raises(FileOperationError) as info:
        sdk.files.list(str(d / "missing-dir"))
    assert info.value.code == "DIRECTORY_NOT_FOUND"
    with pytest.raises(FileOperationError):
        sdk.files.write(f"{agent.workspace}/../../../../../../../../../../etc/kernelagent-sdk", "x")
    assert not os.path.exists("/etc/kernelagent-sdk")


def test_sdk_watch(agent, sdk):
    d = fresh(agent)
    target = d / "watched.txt"

    async def main():
        events: list[dict] = []
        gen = sdk.files.watch(str(d))

        async def consume():
            async for ev in gen:
                events.append(ev)
                if ev["event"] == "deleted" and ev["path"] == str(target):
                    return

        task = asyncio.create_task(consume())
        deadline = time.monotonic() + 20
        i = 0
        while not events:  # poke with other files until the watch is live
            assert time.monotonic() < deadline
            i += 1
            await asyncio.to_thread(sdk.files.write, str(d / f"poke{i}"), "x")
            await asyncio.sleep(0.2)
        await asyncio.to_thread(sdk.files.write, str(target), "x")
        await asyncio.to_thread(sdk.files.remove, str(target))
        await asyncio.wait_for(task, 20)
        await gen.aclose()
        return [e for e in events if e["path"] == str(target)]

    events = asyncio.run(main())
    assert events[0]["event"] == "created" and events[0]["path"] == str(target)
    assert events[-1]["event"] == "deleted"
