"""Settings: built once at start from CLI flags and KERNELAGENT_* environment variables, then handed down."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_PREFIX = "KERNELAGENT_"


def _default_state_dir() -> str:
    return str(Path.home() / ".kernelagent")


@dataclass
class Settings:
    # network
    host: str = "127.0.0.1"
    port: int = 7777
    # where executions and commands run by default
    workspace: str = "/workspace"
    # the name the SDKs send for the workspace (their default workdir): in any path a request names,
    # it stands for `workspace`, as if it were a symlink to it (core/workdir.py); empty: no alias
    workspace_alias: str = "/workspace"
    # where the agent keeps its generated secret and token (mode 0700)
    state_dir: str = field(default_factory=_default_state_dir)
    # a local user that kernels, commands and terminals run as (the agent must be root); empty: the agent's own
    run_as_user: str = ""

    # auth: a shared HS256 secret, or a PEM public key (RS256, ES256 or EdDSA, chosen by key type)
    jwt_secret: str = ""
    jwt_public_key: str = ""  # PEM text, or a path to a PEM file
    jwt_audience: str = ""
    jwt_issuer: str = ""
    jwt_leeway: float = 30.0
    token_ttl: int = 30 * 24 * 3600  # lifetime of tokens minted by the agent

    # kernels
    pool_size: int = 1  # warm kernels kept ready per warm language
    warm_languages: str = "all"  # comma-separated names, or "all" available languages
    kernel_start_timeout: float = 60.0
    # Python kernels forked from a warm template (a zygote) rather than launched; false: launched
    kernel_templates: bool = True
    # signatures of kernel messages remembered per kernel against replays (jupyter_client's 65536
    # cost ~10 MB per long-lived kernel); at the bound a random tenth is forgotten
    kernel_digest_history: int = 1024
    max_contexts: int = 64  # named contexts at once
    context_idle_timeout: float = 3600.0  # idle named contexts are culled after this many seconds
    cull_interval: float = 30.0
    memory_trim_interval: float = 10.0  # seconds between handing freed heap back to the OS (glibc); 0: never

    # executions
    default_timeout: float = 60.0
    max_timeout: float = 3600.0
    interrupt_grace: float = 2.0  # after an interrupt, how long before the kernel is restarted
    max_stdout_bytes: int = 1 << 20
    max_stderr_bytes: int = 1 << 20
    max_rich_bytes: int = 16 << 20  # all rich payloads of one execution
    max_queue_per_context: int = 64  # executions waiting on one context
    chart_max_points: int = 1000  # points kept per series of a figure's structured chart (evenly spaced)
    # each context's history (GET /contexts/{id}/notebook): the latest executions kept, oldest dropped first
    history_max_cells: int = 1000  # executions kept per context; 0 keeps none
    history_max_bytes: int = 16 << 20  # their code and outputs (text characters, base64 for images)

    # HTTP
    max_body_bytes: int = 64 << 20
    http_read_bytes: int = 256 << 10  # most bytes read from a socket at once (Tornado's chunk_size)
    idle_timeout: float = 300.0  # a connection waiting this long for a request's headers is closed
    body_timeout: float = 3600.0  # a request body (an upload included) must arrive within this many seconds
    ws_buffer_bytes: int = 4 << 20  # /execute/stream output waiting for a slow client; past it frames are dropped

    # execution cache (answers kept per Idempotency-Key)
    cache_max_entries: int = 1024
    cache_max_bytes: int = 64 << 20  # JSON size of all kept answers; a larger single answer is not kept
    cache_ttl: float = 3600.0  # seconds a finished answer is kept

    # terminals
    terminal_max: int = 16  # open terminals at once
    terminal_shell: str = ""  # default: $SHELL, else /bin/bash, else /bin/sh

    # files: roots the file API may reach ("{workspace}" stands for the workspace), comma-separated
    allowed_roots: str = "{workspace},/tmp"
    max_read_bytes: int = 10 << 20  # /files/read answers in JSON; larger files go through /files/download
    max_write_bytes: int = 32 << 20  # decoded content of one /files/write (its JSON body is also capped)
    max_upload_bytes: int = 16 << 30  # one /files/upload, streamed to disk
    file_chunk_bytes: int = 1 << 20  # download chunk and upload write size
    upload_window_bytes: int = 8 << 20  # upload bytes queued for the writer thread before reading pauses
    max_watchers: int = 64  # /files/watch watches at once
    max_watchers_per_connection: int = 16  # of those, on one /files/watch connection (0: no own limit)
    max_transfers: int = 32  # uploads and downloads at once (each holds a thread)
    max_list_entries: int = 10000  # entries one /files/list answers with; past it truncated: true

    # shell commands
    command_timeout: float = 30.0  # /commands/run when the request gives no timeout
    kill_grace: float = 3.0  # after SIGTERM to a process tree, how long before SIGKILL
    shutdown_timeout: float = 10.0  # on SIGTERM, how long an orderly stop may take before every child is SIGKILLed

    # background jobs (background and webhook executions, background commands)
    background_timeout: float = 300.0  # default timeout of /execute/background and /commands/background
    async_timeout: float = 1800.0  # default timeout of /execute/async
    max_running_jobs: int = 64  # background jobs running at once; more get 429
    job_retention: float = 3600.0  # finished job records are kept this many seconds
    job_retention_count: int = 200  # and at most this many finished records (oldest dropped first)
    job_output_bytes: int = 1 << 20  # per stream, per job, kept in memory (the record's stdout/stderr)
    job_result_bytes: int = 1 << 20  # per job: result and rich outputs its finished record keeps
    job_spill_bytes: int = 256 << 20  # per stream, per job, written to the spill file
    spill_dir: str = ""  # where full job output is written; default <state_dir>/jobs

    # webhooks of /execute/async
    webhook_retries: int = 3  # further attempts after a failed delivery
    webhook_backoff: float = 1.0  # first retry delay in seconds, doubled each time (capped at 60)
    webhook_timeout: float = 10.0  # per delivery attempt
    webhook_allow_private: bool = False  # allow loopback, link-local, private and multicast destinations
    webhook_max_response_bytes: int = 64 << 10  # receiver's answer (headers, body) read at most; body discarded

    # virtual desktop
    desktop: bool = True  # start Xvfb and a window manager where the desktop packages are installed
    desktop_width: int = 1280
    desktop_height: int = 800
    desktop_depth: int = 24
    desktop_display: int = 0  # X display number; 0 picks a free one
    clipboard_history: int = 50  # clipboard texts kept for /desktop/clipboard/history
    vnc_host: str = "127.0.0.1"  # where x11vnc listens (loopback: reach it through /desktop/vnc/websocket)
    vnc_port: int = 0  # 0: 5900 + the display number
    recording_dir: str = ""  # default <state_dir>/recordings
    recording_max_seconds: float = 1800.0  # a recording stops by itself after this long
    recording_max_bytes: int = 1 << 30  # or at this size
    max_recordings: int = 2  # recordings running at once; more get 429
    recording_keep: int = 20  # finished recordings kept (oldest files deleted first)

    def languages_warm(self, available: list[str]) -> list[str]:
        """The available languages that start warm ("all" means every one)."""
        if self.warm_languages.strip() == "all":
            return list(available)
        return [s.strip() for s in self.warm_languages.split(",") if s.strip() in available]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then KERNELAGENT_* variables, then explicit overrides (CLI flags) that are not None."""
        source: Mapping[str, str] = os.environ if environ is None else environ
        values = {}
        for f in dataclasses.fields(cls):
            raw = source.get(ENV_PREFIX + f.name.upper())
            if raw is not None:
                values[f.name] = _convert(f, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def _convert(f: dataclasses.Field, raw: str):
    kind = f.type if isinstance(f.type, str) else f.type.__name__
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    if kind == "bool":
        return raw.strip().lower() in ("1", "true", "yes", "on")
    return raw
