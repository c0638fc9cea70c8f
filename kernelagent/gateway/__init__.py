"""JupyterLab beside the agent: the Jupyter kernel gateway protocol over the agent's contexts.

`jupyter lab --gateway-url=<agent url> --GatewayClient.auth_token=<token>` (or any jupyter_server)
sees each context as one kernel: service.py answers /api/kernelspecs and /api/kernels, channels.py
relays a channels WebSocket to the context's kernel (executions in the context's one order),
messages.py turns messages into frames. `kernelagent.gateway.jupyter` is for the jupyter_server
side: a kernel manager that lists every context of the agent, not only those it started.
"""

from .service import GatewayService

__all__ = ["GatewayService"]
