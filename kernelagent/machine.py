"""The machine, read with psutil: what /system and /processes answer. Every call blocks (a CPU
sample over an interval, walking the process table), so the metrics service runs them in an executor."""

from __future__ import annotations

import getpass
import os
import platform
import socket
import time
from typing import Any

import psutil

from .core.clock import iso_from_epoch, utc_now_iso
from .models.system import SystemMetrics

MB = 1024 * 1024
CPU_SAMPLE_SECONDS = 0.2


def describe(workspace: str, agent_uptime: float) -> SystemMetrics:
    """The machine as /system answers it (blocking: samples the CPU for a moment)."""
    cpu_percent = psutil.cpu_percent(interval=CPU_SAMPLE_SECONDS)
    mem = psutil.virtual_memory()
    swap = psutil.swap_memory()
    filesystem = disk(workspace)
    boot = psutil.boot_time()
    freq = psutil.cpu_freq()
    try:
        load = os.getloadavg()
    except OSError:
        load = (0.0, 0.0, 0.0)
    uname = platform.uname()
    hostname = socket.gethostname()
    interfaces = _interfaces()
    cores = psutil.cpu_count() or 0
    return {
        # the docs' shape
        "os": {
            "name": uname.system.lower(),
            "version": _os_version(),
            "kernel": uname.release,
            "arch": uname.machine,
            "hostname": hostname,
            "timezone": time.tzname[0],
            "platform": platform.platform(),
        },
        "hardware": {
            "cpu_cores": cores,
            "cpu_physical_cores": psutil.cpu_count(logical=False) or cores,
            "cpu_model": _cpu_model() or uname.processor,
            "memory_mb": mem.total // MB,
            "disk_mb": filesystem["total"] // MB,
        },
        "network": {"interfaces": interfaces, "hostname": hostname},
        "environment": {
            "shell": os.environ.get("SHELL", ""),
            "path": os.environ.get("PATH", ""),
            "user": _user(),
            "home": os.path.expanduser("~"),
            "working_dir": workspace,
            "python_version": platform.python_version(),
        },
        "capabilities": [
            "code_execution",
            "rich_output",
            "contexts",
            "terminal",
            "execution_cache",
            "system_metrics",
            "prometheus_metrics",
        ],
        # the SDK's SystemMetrics shape
        "cpu": {
            "usage_percent": cpu_percent,
            "cores": cores,
            "load_average": list(load),
            "frequency_mhz": freq.current if freq else None,
        },
        "memory": {
            "total": mem.total,
            "used": mem.used,
            "free": mem.free,
            "available": mem.available,
            "usage_percent": mem.percent,
            "swap_total": swap.total,
            "swap_used": swap.used,
        },
        "disk": filesystem,
        "uptime": round(time.time() - boot, 3),
        "boot_time": iso_from_epoch(boot),
        "agent_uptime": round(agent_uptime, 3),
        "timestamp": utc_now_iso(),
    }


def disk(workspace: str) -> dict[str, Any]:
    """The workspace's filesystem (the root's where it does not exist): one statvfs, cheap."""
    path = workspace if os.path.isdir(workspace) else "/"
    usage = psutil.disk_usage(path)
    return {"path": path, "total": usage.total, "used": usage.used, "free": usage.free, "usage_percent": usage.percent}


def running_processes() -> int:
    """Processes running or runnable now (the kernel's procs_running; one read of /proc/stat)."""
    try:
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith("procs_running "):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def processes() -> list[dict[str, Any]]:
    """Every process on the machine (blocking: walks the process table)."""
    attrs = [
        "pid",
        "ppid",
        "name",
        "cmdline",
        "username",
        "status",
        "cpu_percent",
        "memory_info",
        "create_time",
        "num_threads",
    ]
    out = []
    for p in psutil.process_iter(attrs, ad_value=None):
        info = p.info
        mem = info.get("memory_info")
        cmdline = info.get("cmdline") or []
        out.append(
            {
                "pid": info["pid"],
                "ppid": info.get("ppid"),
                "name": info.get("name") or "",
                "command": " ".join(cmdline) if cmdline else (info.get("name") or ""),
                "cmdline": cmdline,
                "user": info.get("username") or "",
                "status": info.get("status"),
                "cpu_percent": info.get("cpu_percent") or 0.0,
                "memory_mb": round(mem.rss / MB, 3) if mem else None,
                "threads": info.get("num_threads"),
                "start_time": iso_from_epoch(info.get("create_time")),
            }
        )
    return out


def _interfaces() -> list[dict[str, Any]]:
    out = []
    link = getattr(psutil, "AF_LINK", None)
    for name, addrs in psutil.net_if_addrs().items():
        entry: dict[str, Any] = {"name": name, "ip": None, "ipv6": None, "mac": None}
        for a in addrs:
            if a.family == socket.AF_INET and entry["ip"] is None:
                entry["ip"] = a.address
            elif a.family == socket.AF_INET6 and entry["ipv6"] is None:
                entry["ipv6"] = a.address.split("%")[0]
            elif link is not None and a.family == link:
                entry["mac"] = a.address
        out.append(entry)
    return out


def _os_version() -> str:
    try:
        return platform.freedesktop_os_release().get("PRETTY_NAME", "")
    except OSError:
        return platform.version()


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())
