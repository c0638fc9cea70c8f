"""The API document: every HTTP route has its operations declared, and the document is valid."""

from __future__ import annotations

from kernelagent.api.openapi import document, missing_operations
from kernelagent.app import ROUTE_MODULES, all_routes

# api modules whose handlers are still being moved to declared operations (the structure issue);
# each leaves this set when it is converted, and the set ends empty.
PENDING: set[str] = set()


def test_every_http_route_declares_its_operations():
    converted = [r for m in ROUTE_MODULES if m.__name__.rsplit(".", 1)[1] not in PENDING for r in m.routes]
    assert missing_operations(converted) == []


def test_document_lists_every_route():
    doc = document(all_routes(), "test")
    assert doc["openapi"].startswith("3.1")
    http = {r.path for r in all_routes() if not r.websocket and not r.protocol}
    assert set(doc["paths"]) == http
    pending = {r.path for m in ROUTE_MODULES if m.__name__.rsplit(".", 1)[1] in PENDING for r in m.routes}
    assert all(doc["paths"][p] for p in http - pending), "a path without operations"
    assert set(doc["x-websockets"]) == {r.path for r in all_routes() if r.websocket}


def test_operations_have_schemas_and_the_error_envelope():
    doc = document(all_routes(), "test")
    schemas = doc["components"]["schemas"]
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            assert operation["responses"]["default"]["content"]["application/json"]["schema"]["$ref"].endswith(
                "/ErrorResponse"
            ), (method, path)
            status, ok = next((k, v) for k, v in operation["responses"].items() if k != "default")
            if status == "204":  # No Content: nothing to describe
                assert not ok.get("content"), f"{method.upper()} {path} answers 204 with a body"
                continue
            assert ok.get("content"), f"{method.upper()} {path} has no response schema"
            for content in [*ok["content"].values(), *operation.get("requestBody", {}).get("content", {}).values()]:
                ref = content["schema"].get("$ref")
                if ref:
                    assert ref.rsplit("/", 1)[1] in schemas, ref
    assert doc["paths"]["/health"]["get"]["security"] == []
