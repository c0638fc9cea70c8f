"""kernelagent as an MCP server: its tools over the agent's services.

- `tools.py`: the tools (name, description for a model, arguments' model from `models/mcp.py`, one call)
- `render.py`: answers into MCP content (images, embedded resources with their MIME type, text)
- `server.py`: the SDK's low-level server over a backend; protocol errors naming the argument; stdio
- `backend.py`: the `Backend` seam and `LocalBackend` (this agent's services, for `/mcp`)
- `remote.py`: `RemoteBackend` (an agent over HTTP, for `kernelagent mcp` over stdio)
- `endpoint.py`, `bridge.py`: `/mcp` on the agent's port (the SDK's session manager, bridged into Tornado)

Only `endpoint.py` and `bridge.py` are imported at start; the SDK itself is imported on first use.
"""
