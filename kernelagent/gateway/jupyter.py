"""For the jupyter_server side (JupyterLab's server), not the agent: a kernel manager that shows every
context of the agent as a running kernel.

jupyter_server's own GatewayMappingKernelManager lists only the kernels it started or was asked to
use by id, so the agent's default contexts and those made through /contexts would stay out of
JupyterLab's list of running kernels. With this one, they are in it:

    jupyter lab --gateway-url=http://<agent> --GatewayClient.auth_token=<jwt> \\
        --ServerApp.kernel_manager_class=kernelagent.gateway.jupyter.AgentKernelManager

Importing this module imports jupyter_server (not a dependency of the agent).
"""

from __future__ import annotations

from typing import Any

from jupyter_server.gateway.gateway_client import gateway_request
from jupyter_server.gateway.managers import GatewayMappingKernelManager
from tornado.escape import json_decode


class AgentKernelManager(GatewayMappingKernelManager):
    """GatewayMappingKernelManager that adopts every kernel the gateway lists before listing."""

    async def list_kernels(self, **kwargs: Any) -> list[dict[str, Any]]:
        response = await gateway_request(self.kernels_url, method="GET")
        for model in json_decode(response.body):
            if model["id"] not in self._kernels:
                await self.start_kernel(kernel_id=model["id"])  # "start" with an id: use the existing kernel
        return await super().list_kernels(**kwargs)
