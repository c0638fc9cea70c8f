"""Upload and download of a large file through the agent, beside a plain local copy of the same
file in the same run, with the agent's peak memory growth. Prints figures; not a test.

    /work/main/.venv/bin/python bench/files_bench.py [--size-mib 1024]

The client side is kept cheap so the agent is what is measured: the upload is sent with
socket.sendfile() inside a hand-made multipart body, the download moved from the socket to a file
with os.splice() through a pipe (recv_into() where splice is missing). Both transfers land on the same disk
as the local copy.
The agent's RSS is sampled every 10 ms with psutil while each transfer runs, and GET /health is
timed every 20 ms over a keep-alive connection, to show whether the event loop stays responsive.

Baselines: `local copy` is shutil.copyfile (copy_file_range: the kernel copies page cache to page
cache and the bytes never reach user space), the line the issue's target is judged against;
`local copy + fsync` adds the durability every upload pays before its rename; `user-space copy` is
a read/write loop with 1 MiB buffers, the fair cost of moving bytes through a process.
Each figure is the median of the rounds (best in brackets): the machine is shared.

    --agent-env KEY=VALUE   extra KERNELAGENT_* settings for the agent (repeatable)
"""

from __future__ import annotations

import argparse
import fcntl
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import jwt
import psutil

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret-" + "y" * 40
MiB = 1 << 20
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_agent(tmp: Path, extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen, int, Path]:
    port = free_port()
    workspace = tmp / "workspace"
    workspace.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KERNELAGENT_")}
    env.update(
        {
            "KERNELAGENT_JWT_SECRET": SECRET,
            "KERNELAGENT_STATE_DIR": str(tmp / "state"),
            "KERNELAGENT_WARM_LANGUAGES": "",
            "PYTHONPATH": str(ROOT),
        }
    )
    env.update(extra_env or {})
    log = (tmp / "agent.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kernelagent", "serve", "--port", str(port), "--workspace", str(workspace)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc, port, workspace
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("agent did not start")


class RssPeak:
    """Samples a process's RSS in a thread; .peak after stop()."""

    def __init__(self, pid: int):
        self.proc = psutil.Process(pid)
        self.base = self.proc.memory_info().rss
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.01)

    def __enter__(self) -> RssPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


class HealthProbe:
    """Times GET /health every 20 ms over one keep-alive connection while a transfer runs."""

    def __init__(self, port: int):
        self.port = port
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while not self._stop.is_set():
            t = time.perf_counter()
            conn.request("GET", "/health")
            resp = conn.getresponse()
            resp.read()
            self.latencies.append(time.perf_counter() - t)
            time.sleep(0.02)
        conn.close()

    def __enter__(self) -> HealthProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def user_space_copy(src: Path, dst: Path) -> None:
    buf = bytearray(MiB)
    view = memoryview(buf)
    with src.open("rb", buffering=0) as fin, dst.open("wb", buffering=0) as fout:
        while n := fin.readinto(buf):
            fout.write(view[:n])


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and the body bytes already read past the header block."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            raise RuntimeError(f"connection closed: {buf!r}")
        buf += data
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, rest


def upload(port: int, token: str, src: Path, dest: str) -> None:
    boundary = "benchboundary7e3f"
    pre = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="path"\r\n\r\n{dest}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{src.name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    post = f"\r\n--{boundary}--\r\n".encode()
    length = len(pre) + src.stat().st_size + len(post)
    with socket.create_connection(("127.0.0.1", port)) as s, src.open("rb") as f:
        s.sendall(
            (
                f"POST /files/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                f"Content-Length: {length}\r\nConnection: close\r\n\r\n"
            ).encode()
            + pre
        )
        s.sendfile(f)
        s.sendall(post)
        status, _, body = read_response(s)
        while chunk := s.recv(65536):
            body += chunk
        if status != 200:
            raise RuntimeError(f"upload failed: {status} {body[:500]!r}")


def download(port: int, token: str, path: str, out: Path) -> int:
    from urllib.parse import quote

    with socket.create_connection(("127.0.0.1", port)) as s, out.open("wb") as f:
        s.sendall(
            (
                f"GET /files/download?path={quote(path)} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {token}\r\nConnection: close\r\n\r\n"
            ).encode()
        )
        status, headers, rest = read_response(s)
        if status != 200:
            raise RuntimeError(f"download failed: {status} {rest[:500]!r}")
        total = int(headers["content-length"])
        f.write(rest)
        f.flush()
        got = len(rest)
        if hasattr(os, "splice"):  # socket -> pipe -> file inside the kernel, as the local copy does
            r, w = os.pipe()
            try:
                fcntl.fcntl(w, F_SETPIPE_SZ, 4 * MiB)
            except OSError:
                pass
            try:
                while got < total:
                    n = os.splice(s.fileno(), w, min(4 * MiB, total - got))
                    if not n:
                        break
                    got += n
                    while n:
                        n -= os.splice(r, f.fileno(), n)
            finally:
                os.close(r)
                os.close(w)
        buf = bytearray(4 * MiB)
        view = memoryview(buf)
        while got < total:
            n = s.recv_into(buf)
            if not n:
                break
            f.write(view[:n])
            got += n
        if got != total:
            raise RuntimeError(f"download short: {got} of {total}")
        return got


def timed(fn, *args) -> float:
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


def copy_fsync(src: Path, dst: Path) -> None:
    shutil.copyfile(src, dst)
    with dst.open("rb+") as f:
        os.fsync(f.fileno())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=1, help="rounds, interleaved; medians are reported")
    ap.add_argument("--agent-env", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args()
    size = args.size_mib * MiB
    extra = dict(kv.split("=", 1) for kv in args.agent_env)
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="files-bench-") as tmpdir:
        tmp = Path(tmpdir)
        proc, port, ws = start_agent(tmp, extra)
        token = jwt.encode({"sub": "bench", "exp": int(time.time()) + 3600}, SECRET, algorithm="HS256")
        try:
            src = tmp / "source.bin"
            block = os.urandom(MiB)
            with src.open("wb") as f:
                for _ in range(args.size_mib):
                    f.write(block)
            results: dict[str, list[float]] = {}
            health: dict[str, list[float]] = {"idle": [], "upload": [], "download": []}
            up_growth = down_growth = 0.0
            base = psutil.Process(proc.pid).memory_info().rss
            with HealthProbe(port) as idle:
                time.sleep(1.0)
            health["idle"] += idle.latencies
            for _ in range(args.repeat):  # interleaved: the machine is shared

                def record(name: str, secs: float) -> None:
                    results.setdefault(name, []).append(secs)

                record("local copy", timed(shutil.copyfile, src, tmp / "copy.bin"))
                (tmp / "copy.bin").unlink()
                record("local copy + fsync", timed(copy_fsync, src, tmp / "copy.bin"))
                (tmp / "copy.bin").unlink()
                record("user-space copy", timed(user_space_copy, src, tmp / "copy.bin"))
                (tmp / "copy.bin").unlink()
                with RssPeak(proc.pid) as up_mem, HealthProbe(port) as up_health:
                    record("upload", timed(upload, port, token, src, str(ws / "uploaded.bin")))
                health["upload"] += up_health.latencies
                assert (ws / "uploaded.bin").stat().st_size == size
                with RssPeak(proc.pid) as down_mem, HealthProbe(port) as down_health:
                    record("download", timed(download, port, token, str(ws / "uploaded.bin"), tmp / "downloaded.bin"))
                health["download"] += down_health.latencies
                assert (tmp / "downloaded.bin").stat().st_size == size
                # spot-check content: first and last MiB
                with (tmp / "downloaded.bin").open("rb") as f:
                    assert f.read(MiB) == block
                    f.seek(-MiB, os.SEEK_END)
                    assert f.read(MiB) == block
                (tmp / "downloaded.bin").unlink()
                up_growth = max(up_growth, (up_mem.peak - base) / MiB)
                down_growth = max(down_growth, (down_mem.peak - base) / MiB)
                loads.append(os.getloadavg()[0])
        finally:
            proc.terminate()
            proc.wait(30)
    med = {name: statistics.median(v) for name, v in results.items()}
    print(
        f"file size: {args.size_mib} MiB, median of {args.repeat} rounds [best]  (cores: {os.cpu_count()}, "
        f"1-min load average during the run {min(loads):.1f}..{max(loads):.1f})"
    )
    for name, secs in med.items():
        print(
            f"  {name:<20} {secs:7.2f} s  {args.size_mib / secs:8.1f} MiB/s"
            f"  [{args.size_mib / min(results[name]):8.1f}]"
        )
    for what in ("upload", "download"):
        print(
            f"  {what:<8} throughput / local copy: {med['local copy'] / med[what]:.2f}   "
            f"/ copy + fsync: {med['local copy + fsync'] / med[what]:.2f}   "
            f"/ user-space copy: {med['user-space copy'] / med[what]:.2f}"
        )
    for what, lat in health.items():
        if lat:
            lat = sorted(lat)
            p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
            print(
                f"  GET /health during {what:<8}: n={len(lat):4d} median {statistics.median(lat) * 1000:6.1f} ms  "
                f"p99 {p99 * 1000:6.1f} ms  max {lat[-1] * 1000:6.1f} ms"
            )
    print(
        f"  agent peak RSS growth over its idle RSS ({base / MiB:.0f} MiB): "
        f"upload {up_growth:.1f} MiB, download {down_growth:.1f} MiB"
    )
    print("  targets: throughput ratio (to local copy) >= 0.5, RSS growth < 64 MiB")


if __name__ == "__main__":
    main()
