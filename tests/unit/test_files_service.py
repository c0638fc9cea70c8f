"""The files package without an agent: path policy, atomic writes, the upload form, and the limits
on transfers and watches (each answered with 429 RATE_LIMIT_EXCEEDED)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from kernelagent.core.errors import AgentError
from kernelagent.files import FileService
from kernelagent.files.atomic import AtomicFile, TempRegistry, write_all
from kernelagent.files.policy import PathPolicy
from kernelagent.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    ws = tmp_path / "ws"
    ws.mkdir()
    return Settings(
        workspace=str(ws),
        allowed_roots="{workspace}",
        max_transfers=1,
        max_watchers=1,
        max_upload_bytes=1 << 20,
        file_chunk_bytes=64 << 10,
    )


def error(fn, *args) -> AgentError:
    with pytest.raises(AgentError) as info:
        fn(*args)
    return info.value


def test_policy_contains_on_resolved_paths(settings, tmp_path):
    policy = PathPolicy(settings)
    ws = Path(settings.workspace)
    sibling = tmp_path / "ws2"  # shares the workspace's string prefix, not its tree
    sibling.mkdir()
    (ws / "out").symlink_to(tmp_path)
    assert policy.resolve(f"{ws}/a/../b") == f"{ws}/b"
    assert policy.roots() == [str(ws)]
    for path in (str(sibling), f"{ws}/../ws2/x", f"{ws}/out/ws2", "/etc/passwd"):
        assert error(policy.resolve, path).code == "PATH_NOT_ALLOWED", path
    for path in ("rel", "./x", f"{ws}/a\0b"):
        assert error(policy.resolve, path).code == "INVALID_PATH", path
    assert error(policy.resolve, "").code == "MISSING_PARAMETER"
    assert error(policy.resolve, None).code == "MISSING_PARAMETER"
    # removal keeps the last component: the link itself, even when it points outside
    assert policy.resolve_parent(f"{ws}/out") == f"{ws}/out"
    assert error(policy.resolve, f"{ws}/out").code == "PATH_NOT_ALLOWED"


def test_atomic_file_commit_and_abort(tmp_path):
    temps = TempRegistry()
    target = tmp_path / "sub" / "f.txt"
    f = AtomicFile(str(target), 0o600, temps)
    assert f.tmp is not None and temps.lookup(f.tmp) is False  # registered before it exists: a new target
    f.writev([b"ab", memoryview(b"cd"), bytearray(b"")])
    assert not target.exists()
    assert f.commit() == 4
    assert target.read_bytes() == b"abcd" and (target.stat().st_mode & 0o777) == 0o600
    g = AtomicFile(str(target), None, temps)
    assert temps.lookup(g.tmp) is True
    g.write(b"new")
    g.abort()
    g.abort()  # twice is fine
    assert target.read_bytes() == b"abcd" and os.listdir(target.parent) == ["f.txt"]
    assert error(AtomicFile, str(tmp_path), None).code == "INVALID_PATH"
    assert error(AtomicFile, str(target / "under"), None).code == "INVALID_PATH"


def test_write_all_writes_every_view(tmp_path):
    fd = os.open(tmp_path / "v", os.O_WRONLY | os.O_CREAT)
    try:
        views = [bytes([i % 256]) * (i + 1) for i in range(700)]  # more views than one writev takes
        assert write_all(fd, views) == sum(len(v) for v in views)
    finally:
        os.close(fd)
    assert (tmp_path / "v").read_bytes() == b"".join(views)


def multipart(boundary: str, parts: list[tuple[str, str | None, bytes]]) -> bytes:
    out = b""
    for name, filename, data in parts:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disp}\r\n\r\n".encode() + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


async def upload(service: FileService, body: bytes, query_path: str | None = None, step: int = 1000):
    form = service.upload_form("multipart/form-data; boundary=B", len(body), query_path)
    try:
        for i in range(0, len(body), step):
            await form.feed(body[i : i + step])
        return await form.finish()
    finally:
        await form.abandon()


def test_upload_form_path_before_after_and_in_query(settings):
    service = FileService(settings)
    ws = Path(settings.workspace)
    data = bytes(range(256)) * 300 + b"\r\n--\r\n-B\r\n--b" * 50  # near-boundaries, not one

    async def main() -> None:
        r = await upload(service, multipart("B", [("path", None, f"{ws}/a.bin".encode()), ("file", "a", data)]))
        assert r["size"] == len(data) and r["path"] == f"{ws}/a.bin"
        await upload(service, multipart("B", [("file", "a", data), ("path", None, f"{ws}/late.bin".encode())]))
        await upload(service, multipart("B", [("file", "a", data)]), query_path=f"{ws}/q.bin")
        assert service.transfers.used == 0  # every finished upload gave its slot back

    asyncio.run(main())
    service.close()
    for name in ("a.bin", "late.bin", "q.bin"):
        assert (ws / name).read_bytes() == data
    assert sorted(os.listdir(ws)) == ["a.bin", "late.bin", "q.bin"]


def test_upload_form_errors_leave_the_target(settings):
    service = FileService(settings)
    ws = Path(settings.workspace)
    (ws / "keep").write_bytes(b"old")

    async def main() -> None:
        cut = multipart("B", [("path", None, f"{ws}/keep".encode()), ("file", "k", b"new" * 1000)])[:-20]
        with pytest.raises(AgentError) as info:
            await upload(service, cut)
        assert info.value.code == "INVALID_REQUEST"
        with pytest.raises(AgentError) as info:
            await upload(service, multipart("B", [("file", "k", b"x")]))
        assert info.value.code == "MISSING_PARAMETER"
        big = multipart("B", [("path", None, f"{ws}/keep".encode()), ("file", "k", b"x" * ((1 << 20) + 1))])
        with pytest.raises(AgentError) as info:
            await upload(service, big, step=64 << 10)
        assert info.value.code == "FILE_TOO_LARGE"
        with pytest.raises(AgentError) as info:
            await upload(service, multipart("B", [("file", "k", b"x")]), query_path="/etc/x")
        assert info.value.code == "PATH_NOT_ALLOWED"
        assert service.transfers.used == 0
        with pytest.raises(AgentError) as info:
            service.upload_form("text/plain", 10, None)
        assert info.value.code == "INVALID_REQUEST" and service.transfers.used == 0

    asyncio.run(main())
    service.close()
    assert (ws / "keep").read_bytes() == b"old" and os.listdir(ws) == ["keep"]


def test_transfers_and_watches_answer_429_rate_limit_exceeded(settings):
    service = FileService(settings)
    ws = settings.workspace
    (Path(ws) / "f").write_bytes(b"x")

    async def main() -> None:
        download = await service.open_download(f"{ws}/f")
        with pytest.raises(AgentError) as info:
            await service.open_download(f"{ws}/f")
        assert (info.value.status, info.value.code) == (429, "RATE_LIMIT_EXCEEDED")
        download.close()
        download.close()  # the slot is given back once
        assert service.transfers.used == 0
        with pytest.raises(AgentError):
            await service.open_download(f"{ws}/missing")
        assert service.transfers.used == 0  # a failed open gives its slot back

        watch = service.watch(ws, True, lambda change: None)
        with pytest.raises(AgentError) as info:
            service.watch(ws, True, lambda change: None)
        assert (info.value.status, info.value.code) == (429, "RATE_LIMIT_EXCEEDED")
        watch.stop()
        watch.stop()
        service.watch(ws, True, lambda change: None).stop()  # the slot came back
        assert service.watchers.used == 0

    asyncio.run(main())
    service.close()
