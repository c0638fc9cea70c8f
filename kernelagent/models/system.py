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
    uptime_seconds: float
    go_version: None
    vm_id: str
    languages: list[str]
    pool: dict[str, dict[str, Any]]
    kernel_modes: dict[str, dict[str, Any]]  # per language: "fork" (from a template, and its state) or "launch"
    features: dict[str, Any]
    desktop: dict[str, Any]  # available, display; else why not and what is missing
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
    uptime_seconds: float
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
    network: dict[str, Any]
    environment: dict[str, Any]
    capabilities: list[str]
    cpu: dict[str, Any]
    memory: dict[str, Any]
    disk: dict[str, Any]
    uptime: float
    boot_time: str | None
    agent_uptime: float
    timestamp: str


class ProcessList(TypedDict):
    processes: list[dict[str, Any]]
    count: int
    timestamp: str


class MetricsSnapshot(TypedDict):
    """The agent's own figures, cheap enough to take on every call."""

    uptime_seconds: float
    uptime: float
    start_time: str | None
    total_requests: int
    total_errors: int
    error_rate: float
    avg_duration_ms_overall: float
    # the JS SDK's scalars (its MetricsSnapshot type) ...
    requests_total: int
    error_count: int
    avg_duration_ms: float
    p95_duration_ms: float
    # ... and the same figures per route ("GET /files/read")
    requests_by_endpoint: dict[str, int]
    errors_by_endpoint: dict[str, int]
    avg_duration_ms_by_endpoint: dict[str, float]
    active_executions: int
    total_executions: int
    contexts: int
    pool: dict[str, dict[str, Any]]
    cache: dict[str, Any]
    terminals: dict[str, int]
    system: dict[str, Any]
    process: dict[str, Any]
    timestamp: str


class CacheStats(TypedDict):
    """The execution cache's figures (`cache` repeats the SDK's older shape)."""

    size: int
    count: int
    max_size: int
    in_flight: int
    bytes: int
    max_bytes: int
    hits: int
    misses: int
    hit_rate: float
    evictions: int
    ttl: float
    cache: dict[str, Any]
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
