"""The Jupyter kernel gateway protocol: /api/kernelspecs, /api/kernels and the channels WebSocket.

GatewayClient authenticates with `Authorization: token <jwt>`; Bearer works too.
"""

from __future__ import annotations

from typing import Any

from tornado import websocket

from ..core.errors import AgentError
from ..gateway.channels import KernelChannels
from ..models.base import parse_json
from ..models.gateway import ChannelFrame, KernelCreate, KernelModel, KernelSpecList, KernelSpecModel
from .base import AuthWebSocketHandler, BaseHandler, error_frame
from .routing import Route, op

JUPYTER_SCHEMES = ("bearer", "token")


class GatewayHandler(BaseHandler):
    """A REST handler of the gateway protocol: the agent's JWT under either scheme."""

    auth_schemes = JUPYTER_SCHEMES

    def no_content(self) -> None:
        self.set_status(204)
        self.clear_header("Content-Type")
        self.finish()


class KernelSpecsHandler(GatewayHandler):
    """The kernelspecs of the languages this agent runs."""

    @op("List the kernelspecs (one per language the agent runs)", response=KernelSpecList)
    def get(self) -> KernelSpecList:
        return self.services.gateway.kernelspecs()


class KernelSpecHandler(GatewayHandler):
    """One kernelspec."""

    @op("Describe a kernelspec", response=KernelSpecModel)
    def get(self, name: str) -> KernelSpecModel:
        return self.services.gateway.kernelspec(name)


class KernelsHandler(GatewayHandler):
    """The contexts, as Jupyter kernels."""

    @op("List the contexts as Jupyter kernels", response=list[KernelModel])
    def get(self) -> list[KernelModel]:
        return self.services.gateway.list_kernels()

    @op("Start a kernel: a new context", body=KernelCreate, body_required=False, response=KernelModel, status=201)
    async def post(self, body: KernelCreate) -> KernelModel:
        return await self.services.gateway.start_kernel(body)


class KernelHandler(GatewayHandler):
    """One context, as a Jupyter kernel."""

    @op("Describe a kernel", response=KernelModel)
    def get(self, kernel_id: str) -> KernelModel:
        return self.services.gateway.kernel(kernel_id)

    @op("Shut a kernel down: delete its context", status=204)
    async def delete(self, kernel_id: str) -> None:
        await self.services.gateway.shutdown_kernel(kernel_id)
        self.no_content()


class KernelInterruptHandler(GatewayHandler):
    """Interrupt what the kernel runs."""

    @op("Interrupt a kernel", status=204)
    async def post(self, kernel_id: str) -> None:
        await self.services.gateway.interrupt_kernel(kernel_id)
        self.no_content()


class KernelRestartHandler(GatewayHandler):
    """A fresh kernel for the context (its state is lost, its id kept)."""

    @op("Restart a kernel", response=KernelModel)
    async def post(self, kernel_id: str) -> KernelModel:
        return await self.services.gateway.restart_kernel(kernel_id)


class KernelChannelsHandler(AuthWebSocketHandler):
    """The channels WebSocket: Jupyter messages as JSON text frames, relayed to the context's kernel."""

    auth_schemes = JUPYTER_SCHEMES
    relay: KernelChannels | None = None

    def ready(self) -> None:
        self.services.gateway.context_id(self.path_kwargs["kernel_id"])  # 404 before the upgrade if unknown

    async def open(self, *args: Any, kernel_id: str = "", **kwargs: Any) -> None:  # type: ignore[override]  # Tornado awaits it
        super().open()
        try:
            self.relay = self.services.gateway.channels(kernel_id, self._send_text, self.close)
            await self.relay.open()
        except AgentError as exc:  # deleted between the upgrade and now
            self.send_json(error_frame(exc.code, exc.message))
            self.close()

    def _send_text(self, text: str) -> None:
        try:
            self.write_message(text)
        except websocket.WebSocketClosedError:
            pass

    def on_message(self, message: str | bytes) -> None:
        if self.relay is None:
            return
        if isinstance(message, bytes):
            self.send_json(
                error_frame("INVALID_REQUEST", "Binary frames are not served: send Jupyter messages as JSON text")
            )
            return
        try:
            self.relay.receive(parse_json(ChannelFrame, message.encode()))
        except AgentError as exc:
            self.send_json(error_frame(exc.code, exc.message))

    def on_close(self) -> None:
        if self.relay is not None:
            self.services.gateway.release(self.relay)


routes = [
    Route("/api/kernelspecs", KernelSpecsHandler),
    Route("/api/kernelspecs/{name}", KernelSpecHandler),
    Route("/api/kernels", KernelsHandler),
    Route("/api/kernels/{kernel_id}", KernelHandler),
    Route("/api/kernels/{kernel_id}/interrupt", KernelInterruptHandler),
    Route("/api/kernels/{kernel_id}/restart", KernelRestartHandler),
    Route(
        "/api/kernels/{kernel_id}/channels",
        KernelChannelsHandler,
        websocket="Jupyter's kernel WebSocket protocol (JSON text): messages with a channel (shell, control, stdin) "
        "relayed to the context's kernel, every iopub message and the replies back; execute requests wait for the "
        "context's turn. Authorization: Bearer or token <jwt>",
    ),
]
