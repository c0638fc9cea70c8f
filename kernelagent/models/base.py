"""What every request model shares: strict parsing at the edge, the field types that recur, and
one translation of a validation failure into the contract's 400 envelope naming the field.

Bodies are parsed from their raw bytes by pydantic (its JSON parser bounds nesting and rejects
lone surrogates and non-finite numbers), so nothing untyped reaches a service.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from ..core.errors import AgentError, bad_request, missing

M = TypeVar("M", bound=BaseModel)


class RequestModel(BaseModel):
    """A request body or WebSocket frame: strict types (a number is not a string), unknown fields
    ignored (clients send more than we read), no NaN or infinity."""

    model_config = ConfigDict(strict=True, extra="ignore", allow_inf_nan=False, hide_input_in_errors=True)


class QueryModel(BaseModel):
    """Query arguments: they arrive as text, so numbers and booleans are converted from it."""

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False, hide_input_in_errors=True)


def _no_nul(value: str) -> str:
    if "\0" in value:
        raise ValueError("must not contain NUL bytes")
    return value


def _number_as_text(value: Any) -> Any:
    """Environment values may be sent as numbers (`{"PORT": 8080}`); they travel as text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value


def _env_name(value: str) -> str:
    if not value or "=" in value or "\0" in value:
        raise ValueError("an environment variable name is a non-empty string without '=' or NUL")
    return value


# Strings that reach the OS (argv, paths, environment) cannot carry NUL bytes.
OsText = Annotated[str, BeforeValidator(lambda v: _no_nul(v) if isinstance(v, str) else v)]
EnvName = Annotated[str, BeforeValidator(lambda v: _env_name(v) if isinstance(v, str) else v)]
EnvValue = Annotated[
    str, BeforeValidator(_number_as_text), BeforeValidator(lambda v: _no_nul(v) if isinstance(v, str) else v)
]
EnvVars = dict[EnvName, EnvValue]
# A timeout in seconds; the upper bound is a setting, checked by `within_max_timeout`.
Timeout = Annotated[float, Field(gt=0, description="seconds")]


class WorkdirFields(RequestModel):
    """The working directory, in both of the contract's spellings: `workdir` wins when both are set."""

    workdir: OsText | None = Field(None, description="working directory (absolute); default the workspace")
    working_dir: OsText | None = Field(None, description="the same as workdir, in the spelling some clients use")

    @property
    def cwd(self) -> str | None:
        return self.workdir if self.workdir is not None else self.working_dir


class IdempotencyField(RequestModel):
    """Work that starts something may carry a key so a retry does not run it twice."""

    idempotency_key: str | None = Field(None, max_length=255, description="the same as the Idempotency-Key header")


def within_max_timeout(value: float | None, default: float, maximum: float) -> float:
    """A parsed timeout, or the default when absent; above the configured maximum is a 400."""
    if value is None:
        return default
    if value > maximum:
        raise bad_request(f"'timeout' must be between 0 and {maximum:g} seconds", field="timeout")
    return value


def validation_error(exc: ValidationError) -> AgentError:
    """The first problem pydantic found, as a 400 in the envelope that names the field."""
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    first = errors[0]
    kind, where = first["type"], ".".join(str(p) for p in first["loc"])
    if kind == "json_invalid":
        return bad_request(f"Invalid JSON body: {first['msg']}", code="INVALID_JSON")
    if not where and kind in ("model_type", "dict_type", "model_attributes_type"):
        return bad_request("Request body must be a JSON object", code="INVALID_JSON")
    if kind == "missing":
        return missing(where)
    problems = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in errors[:10]]
    return bad_request(f"Invalid value for '{where}': {first['msg']}", field=where, errors=problems)


def parse_json(model: type[M], raw: bytes, required: bool = True) -> M:
    """A request body as `model`; an empty body is `{}` unless the body is required."""
    if not raw or not raw.strip():
        if required:
            raise bad_request("Request body must be a JSON object", code="INVALID_JSON")
        raw = b"{}"
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise validation_error(exc) from None


def parse_object(model: type[M], data: Any) -> M:
    """Already-decoded data (query arguments, a frame) as `model`."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from None
