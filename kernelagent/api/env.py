"""Global environment variables: GET/PUT/PATCH/DELETE /env and DELETE /env/{key}.

PUT and PATCH answer 200 with the resulting variables (the SDK takes `env_vars` from a 200 JSON
body as readily as it takes a 204). Values are never masked: the SDK's env.delete() re-PUTs what
GET returned, so a masked value would be written back as the mask.
"""

from __future__ import annotations

from typing import Any

from ..environment import validate_env
from ..errors import missing
from ..timeutil import utc_now_iso
from .base import BaseHandler


def env_body(env_vars: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {"env_vars": env_vars, "count": len(env_vars), **extra, "timestamp": utc_now_iso()}


def _variables(body: dict[str, Any]) -> Any:
    for key in ("env_vars", "env", "variables"):
        if key in body:
            return body[key]
    raise missing("env_vars")


class EnvHandler(BaseHandler):
    def get(self) -> None:
        self.write_json(env_body(self.services.env.all()))

    def put(self) -> None:
        """Replace every global variable (an OAS `merge: true` flag is ignored, as the contract says)."""
        env = validate_env(_variables(self.json_body()), "env_vars")
        self.write_json(env_body(self.services.env.replace(env)))

    def patch(self) -> None:
        """Merge; a null value removes that variable (JSON merge-patch)."""
        raw = _variables(self.json_body())
        removed = []
        if isinstance(raw, dict):
            removed = [k for k, v in raw.items() if v is None]
            raw = {k: v for k, v in raw.items() if v is not None}
        env = validate_env(raw, "env_vars")
        store = self.services.env
        for key in removed:
            store.delete(key)
        self.write_json(env_body(store.merge(env)))

    def delete(self) -> None:
        cleared = self.services.env.clear()
        self.write_json(env_body({}, cleared=cleared))


class EnvKeyHandler(BaseHandler):
    def get(self, key: str) -> None:
        env = self.services.env.all()
        self.write_json({"key": key, "value": env.get(key), "exists": key in env, "timestamp": utc_now_iso()})

    def delete(self, key: str) -> None:
        """Idempotent: 200 with what remains, `deleted` telling whether the key was there."""
        deleted = self.services.env.delete(key)
        self.write_json(env_body(self.services.env.all(), key=key, deleted=deleted))


routes = [
    (r"/env", EnvHandler),
    (r"/env/([^/]+)", EnvKeyHandler),
]
