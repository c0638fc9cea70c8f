"""The API document (OpenAPI 3.1), generated from the routes and the operations they declare.

Request and response schemas come from the same pydantic models and TypedDicts that parse and
type the requests, so the document cannot drift from what the handlers accept. WebSocket routes
are described in text (OpenAPI has no WebSocket operations), under `x-websockets` and in the
document's description; so are routes of another protocol over HTTP (MCP), under `x-protocols`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import TypeAdapter

from .routing import METHODS, Op, Route, operation_of

REF = "#/components/schemas/{model}"

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The error envelope of every 4xx and 5xx answer",
    "required": ["error", "message", "code", "request_id", "timestamp", "path"],
    "properties": {
        "error": {"type": "string"},
        "message": {"type": "string"},
        "code": {"type": "string", "examples": ["INVALID_REQUEST", "MISSING_PARAMETER", "FILE_NOT_FOUND"]},
        "request_id": {"type": "string"},
        "timestamp": {"type": "string"},
        "path": {"type": "string"},
        "details": {"type": "object"},
    },
}

DESCRIPTION = """kernelagent serves the HopX VM Agent API: code in warm Jupyter kernels, shell commands,
files, environment variables and observability, behind JWT bearer auth (all but /health)."""


class _Schemas:
    """Collects component schemas by name; a name taken by two different types is an error."""

    def __init__(self) -> None:
        self.components: dict[str, Any] = {"ErrorResponse": ERROR_SCHEMA}

    def ref(self, kind: Any, mode: str) -> dict[str, Any]:
        if kind is dict:
            return {"type": "object"}
        schema = TypeAdapter(kind).json_schema(ref_template=REF, mode=mode)  # type: ignore[arg-type]
        for name, sub in schema.pop("$defs", {}).items():
            self._add(name, sub)
        name = getattr(kind, "__name__", None)
        if name is None:
            return schema
        self._add(name, schema)
        return {"$ref": REF.format(model=name)}

    def _add(self, name: str, schema: dict[str, Any]) -> None:
        if self.components.setdefault(name, schema) != schema:
            raise ValueError(f"two schemas are named {name}")

    def query_parameters(self, model: Any) -> list[dict[str, Any]]:
        schema = TypeAdapter(model).json_schema(ref_template=REF, mode="validation")
        for name, sub in schema.pop("$defs", {}).items():
            self._add(name, sub)
        required = set(schema.get("required", []))
        return [
            {
                "name": name,
                "in": "query",
                "required": name in required,
                "schema": _plain(prop),
                **({"description": prop["description"]} if "description" in prop else {}),
            }
            for name, prop in schema.get("properties", {}).items()
        ]


def _plain(prop: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in prop.items() if k not in ("title", "description")}


def _operation(route: Route, method: str, spec: Op, open_endpoint: bool, schemas: _Schemas) -> dict[str, Any]:
    params = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in route.params]
    if spec.query is not None:
        params += schemas.query_parameters(spec.query)
    ok: dict[str, Any] = {"description": spec.summary}
    if spec.response is not None:
        ok["content"] = {spec.media_type: {"schema": schemas.ref(spec.response, "serialization")}}
    elif spec.media_type != "application/json":
        ok["content"] = {spec.media_type: {"schema": {"type": "string"}}}
    operation: dict[str, Any] = {
        "operationId": f"{method}{route.path.replace('/', '_').replace('{', '').replace('}', '').replace('.', '_')}",
        "summary": spec.summary,
        "tags": [route.path.strip("/").split("/")[0] or "agent"],
        "parameters": params,
        "responses": {
            str(spec.status): ok,
            "default": {
                "description": "An error, in the envelope",
                "content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorResponse")}}},
            },
        },
    }
    if spec.description:
        operation["description"] = spec.description
    if spec.body is not None:
        operation["requestBody"] = {
            "required": spec.body_required,
            "content": {"application/json": {"schema": schemas.ref(spec.body, "validation")}},
        }
    elif spec.request_media_type is not None:
        operation["requestBody"] = {"required": True, "content": {spec.request_media_type: {"schema": {}}}}
    if open_endpoint:
        operation["security"] = []
    return operation


def missing_operations(routes: Iterable[Route]) -> list[str]:
    """ "METHOD /path" of every HTTP method a handler serves without declaring its operation."""
    from tornado import web

    gaps = []
    for route in routes:
        if route.websocket or route.protocol:
            continue
        for method in METHODS:
            fn = getattr(route.handler, method, None)
            if (
                fn is not None
                and fn is not getattr(web.RequestHandler, method)
                and operation_of(route.handler, method) is None
            ):
                gaps.append(f"{method.upper()} {route.path}")
    return gaps


def document(routes: Iterable[Route], version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `routes`."""
    schemas = _Schemas()
    paths: dict[str, Any] = {}
    websockets: dict[str, str] = {}
    protocols: dict[str, str] = {}
    for route in routes:
        if route.websocket:
            websockets[route.path] = route.websocket
            continue
        if route.protocol:
            protocols[route.path] = route.protocol
            continue
        item = {}
        for method in METHODS:
            spec = operation_of(route.handler, method)
            if spec is not None:
                item[method] = _operation(route, method, spec, getattr(route.handler, "open_endpoint", False), schemas)
        paths[route.path] = item
    ws_text = "\n".join(f"- `{path}` (WebSocket): {text}" for path, text in websockets.items())
    other_text = "\n".join(f"- `{path}`: {text}" for path, text in protocols.items())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "kernelagent (HopX VM Agent API)",
            "version": version,
            "description": DESCRIPTION
            + ("\n\nWebSocket routes:\n" + ws_text if ws_text else "")
            + ("\n\nOther protocols over HTTP:\n" + other_text if other_text else ""),
        },
        "paths": paths,
        "components": {
            "schemas": schemas.components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
        "security": [{"bearer": []}],
        "x-websockets": websockets,
        "x-protocols": protocols,
    }
