"""Global environment variables: GET/PUT/PATCH/DELETE /env, GET/DELETE /env/{key}.

PUT and PATCH answer 200 with the resulting variables (the SDK takes `env_vars` from a 200 JSON
body as readily as it takes a 204). Values are never masked: the SDK's env.delete() re-PUTs what
GET returned, so a masked value would be written back as the mask.
"""

from __future__ import annotations

from typing import Any

from ..core.clock import utc_now_iso
from ..models.env import EnvAnswer, EnvKeyAnswer, EnvPatch, EnvReplace
from .base import BaseHandler
from .routing import Route, op


def answer(env_vars: dict[str, str], **extra: Any) -> EnvAnswer:
    return {"env_vars": env_vars, "count": len(env_vars), **extra, "timestamp": utc_now_iso()}  # type: ignore[typeddict-item]


class EnvHandler(BaseHandler):
    """The whole set of global variables."""

    @op("List the global environment variables", response=EnvAnswer)
    def get(self) -> EnvAnswer:
        return answer(self.services.env.all())

    @op("Replace every global variable", body=EnvReplace, response=EnvAnswer)
    def put(self, body: EnvReplace) -> EnvAnswer:
        return answer(self.services.env.replace(body.chosen()))

    @op("Merge variables into the global set; a null value removes that variable", body=EnvPatch, response=EnvAnswer)
    def patch(self, body: EnvPatch) -> EnvAnswer:
        return answer(self.services.env.patch(body.chosen()))

    @op("Remove every global variable", response=EnvAnswer)
    def delete(self) -> EnvAnswer:
        return answer({}, cleared=self.services.env.clear())


class EnvKeyHandler(BaseHandler):
    """One global variable."""

    @op("Read one global variable", response=EnvKeyAnswer)
    def get(self, key: str) -> EnvKeyAnswer:
        env = self.services.env.all()
        return {"key": key, "value": env.get(key), "exists": key in env, "timestamp": utc_now_iso()}

    @op("Remove one global variable (idempotent: `deleted` says whether it was there)", response=EnvAnswer)
    def delete(self, key: str) -> EnvAnswer:
        deleted = self.services.env.delete(key)
        return answer(self.services.env.all(), key=key, deleted=deleted)


routes = [
    Route("/env", EnvHandler),
    Route("/env/{key}", EnvKeyHandler),
]
