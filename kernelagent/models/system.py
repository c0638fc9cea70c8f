"""Answers of the agent's descriptive and observability endpoints.

The large figures (/system, /metrics/snapshot) are described by their main keys; each allows
more, since they grow with what the agent measures.
"""

from __future__ import annotations

from typing import Any

from typing_extensions import TypedDict


class Health(TypedDict):
    status: str
    agent: str
    version: str
    uptime: float
    go_version: None
    vm_id: str
    languages: list[str]
    pool: dict[str, dict[str, Any]]
    features: dict[str, Any]
    active_streams: int
    timestamp: str


class Info(TypedDict):
    agent: str
    agent_version: str
    version: str
    vm_id: str
    os: str
    platform: str
    arch: str
    python_version: str
    go_version: None
    vm_ip: str
    ip: str
    vm_port: int
    port: int
    start_time: str | None
    uptime: float
    workspace: str
    languages: list[str]
    features: dict[str, Any]
    endpoints: list[str]
    timestamp: str


class Root(TypedDict):
    agent: str
    version: str
    api: str
    endpoints: list[str]
    timestamp: str


class Pong(TypedDict):
    status: str
    message: str
    timestamp: str


class SystemMetrics(TypedDict):
    """The machine: the docs' shape (os, hardware, ...) and the SDK's (cpu, memory, disk)."""

    os: dict[str, Any]
    hardware: dict[str, Any]
    cpu: dict[str, Any]
    memory: dict[str, Any]
    disk: dict[str, Any]
    uptime: float
    timestamp: str


class ProcessList(TypedDict):
    processes: list[dict[str, Any]]
    count: int
    timestamp: str


class MetricsSnapshot(TypedDict):
    uptime_seconds: float
    total_requests: int
    total_errors: int
    requests_total: dict[str, int]
    active_executions: int
    total_executions: int
    timestamp: str


class CacheStats(TypedDict):
    size: int
    max_size: int
    hits: int
    misses: int
    hit_rate: float
    timestamp: str


class CacheCleared(TypedDict):
    message: str
    entries_removed: int
    timestamp: str


class CacheInfo(TypedDict):
    agent: str
    status: str
    version: str
    vm_id: str
    message: str
    stats: CacheStats
    entries: list[dict[str, Any]]
    timestamp: str
