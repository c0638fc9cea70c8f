"""The agent's contexts as Jupyter kernels: what /api/kernelspecs and /api/kernels answer, and the
relays of the channels WebSockets."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from jupyter_client.kernelspec import KernelSpecManager
from kernelagent_kernels import kernelspecs_dir

from ..core.errors import bad_request, not_found
from ..engine import Engine
from ..engine.languages import LANGUAGES, Language
from ..models.execute import ContextInfo
from ..models.gateway import KernelCreate, KernelModel, KernelSpecList, KernelSpecModel
from ..settings import Settings
from .channels import KernelChannels

# Kernel ids must look like UUIDs (jupyter_server's routes match five dash-separated groups): a
# context whose id is not one (default-python) is seen under a UUID derived from it.
ID_NAMESPACE = uuid.UUID("6f1d8a52-3c44-4f0e-9a43-6b8e0c9b1d7e")
DEFAULT_KERNELSPEC = "python3"


def kernel_id(context_id: str) -> str:
    """The kernel id of a context: its own id when that is a UUID, else a UUID derived from it."""
    try:
        if str(uuid.UUID(context_id)) == context_id:
            return context_id
    except ValueError:
        pass
    return str(uuid.uuid5(ID_NAMESPACE, context_id))


def jupyter_time(iso: str | None) -> str:
    """A timestamp in the one form GatewayClient parses (microseconds always present)."""
    when = datetime.fromisoformat(iso.replace("Z", "+00:00")) if iso else datetime.now(UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class GatewayService:
    """Serves each context as one Jupyter kernel: kernelspecs of the languages the agent runs, kernel
    models, start (a new context), restart, interrupt and shutdown, and the channels relays."""

    def __init__(self, settings: Settings, engine: Engine):
        self.settings = settings
        self.engine = engine
        self.ksm = KernelSpecManager(kernel_dirs=[str(kernelspecs_dir())])
        self.connections: dict[str, set[KernelChannels]] = {}  # context id -> relays open on it

    # --- kernelspecs ---

    def kernelspecs(self) -> KernelSpecList:
        specs = {lang.kernel_name: self.kernelspec(lang.kernel_name) for lang in self._languages()}
        default = DEFAULT_KERNELSPEC if DEFAULT_KERNELSPEC in specs else next(iter(specs), DEFAULT_KERNELSPEC)
        return {"default": default, "kernelspecs": specs}

    def kernelspec(self, name: str) -> KernelSpecModel:
        if name not in {lang.kernel_name for lang in self._languages()}:
            raise not_found("RESOURCE_NOT_FOUND", f"No such kernelspec: {name}", kernelspec=name)
        spec = self.ksm.get_kernel_spec(name).to_dict()
        return {"name": name, "spec": spec, "resources": {}}

    def _languages(self) -> list[Language]:
        """The languages this agent runs, each one kernelspec."""
        return [LANGUAGES[name] for name in self.engine.available]

    # --- kernels ---

    def list_kernels(self) -> list[KernelModel]:
        return [self._model(info) for info in self.engine.list_contexts()]

    def kernel(self, kid: str) -> KernelModel:
        return self._model(self.engine.context_info(self.context_id(kid)))

    async def start_kernel(self, req: KernelCreate) -> KernelModel:
        name = req.name or DEFAULT_KERNELSPEC
        lang = next((lang for lang in self._languages() if lang.kernel_name == name), None)
        if lang is None:
            raise bad_request(f"No such kernelspec: {name}", field="name")
        return self._model(await self.engine.create_context(lang.name))

    async def shutdown_kernel(self, kid: str) -> None:
        await self.engine.delete_context(self.context_id(kid))

    async def interrupt_kernel(self, kid: str) -> None:
        await self.engine.interrupt_context(self.context_id(kid))

    async def restart_kernel(self, kid: str) -> KernelModel:
        return self._model(await self.engine.restart_context(self.context_id(kid)))

    def context_id(self, kid: str) -> str:
        """The context seen as kernel `kid`; 404 if none."""
        for info in self.engine.list_contexts():
            if kernel_id(info["context_id"]) == kid:
                return info["context_id"]
        raise not_found("KERNEL_NOT_FOUND", f"No such kernel: {kid}", kernel_id=kid)

    def _model(self, info: ContextInfo) -> KernelModel:
        cid = info["context_id"]
        return {
            "id": kernel_id(cid),
            "name": LANGUAGES[info["language"]].kernel_name,
            "last_activity": jupyter_time(info["last_activity"]),
            "execution_state": "busy" if info["busy"] else info["execution_state"],
            "connections": len(self.connections.get(cid, ())),
            "context_id": cid,
        }

    # --- channels ---

    def channels(self, kid: str, send: Callable[[str], None], on_gone: Callable[[], None]) -> KernelChannels:
        """A relay between a WebSocket and kernel `kid`; call its open(), and release() when the socket closes."""
        cid = self.context_id(kid)
        relay = KernelChannels(
            cid,
            lambda: self.engine.get_context(cid),
            self.engine.global_env,
            send,
            on_gone,
            deadline=self.settings.max_timeout,
            grace=self.settings.interrupt_grace,
        )
        self.connections.setdefault(cid, set()).add(relay)
        return relay

    def release(self, relay: KernelChannels) -> None:
        relay.close()
        relays = self.connections.get(relay.context_id, set())
        relays.discard(relay)
        if not relays:
            self.connections.pop(relay.context_id, None)

    def stop(self) -> None:
        for relays in list(self.connections.values()):
            for relay in list(relays):
                self.release(relay)
