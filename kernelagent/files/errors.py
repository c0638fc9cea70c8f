"""The errors of the file API: each OS failure as the contract's code and status a caller can act on."""

from __future__ import annotations

import errno

from ..core.errors import AgentError


def not_allowed(path: str) -> AgentError:
    """403: the path resolves outside every allowed root."""
    return AgentError("PATH_NOT_ALLOWED", 403, f"Path not allowed: {path}", {"path": path})


def invalid_path(message: str, path: str) -> AgentError:
    """400 INVALID_PATH: the path names the wrong kind of thing for the operation."""
    return AgentError("INVALID_PATH", 400, message, {"path": path})


def too_large(path: str, size: int, limit: int, what: str, hint: str = "") -> AgentError:
    """413: a file, a content or an upload above its configured limit."""
    return AgentError(
        "FILE_TOO_LARGE",
        413,
        f"{what} is {size} bytes, above the limit of {limit} bytes{hint}",
        {"path": path, "size": size, "limit": limit},
    )


def already_exists(message: str, path: str) -> AgentError:
    return AgentError("FILE_ALREADY_EXISTS", 409, message, {"path": path})


def os_error(exc: OSError, path: str, directory: bool = False) -> AgentError:
    """An OSError as the contract's error: the code and status a caller can act on."""
    e = exc.errno
    details: dict[str, object] = {"path": path}
    if e in (errno.ENOENT, errno.ENOTDIR):
        if directory:
            return AgentError("DIRECTORY_NOT_FOUND", 404, f"Directory not found: {path}", details)
        return AgentError("FILE_NOT_FOUND", 404, f"File not found: {path}", details)
    if e in (errno.EACCES, errno.EPERM):
        return AgentError("PERMISSION_DENIED", 403, f"Permission denied: {path}", details)
    if e == errno.EROFS:
        return AgentError("PERMISSION_DENIED", 403, f"Read-only file system: {path}", details)
    if e in (errno.ENOSPC, errno.EDQUOT):
        return AgentError("INSUFFICIENT_STORAGE", 507, f"No space left on device while writing {path}", details)
    if e == errno.EISDIR:
        return invalid_path(f"Is a directory: {path}", path)
    if e == errno.EEXIST:
        return already_exists(f"Already exists and is not a directory: {path}", path)
    if e == errno.ELOOP:  # a symlink loop, or a link swapped in where none may be followed
        return invalid_path(f"Too many levels of symbolic links: {path}", path)
    if e == errno.ENAMETOOLONG:
        return invalid_path(f"Path too long: {path[:200]}", path)
    if e == errno.EFBIG:
        return AgentError("FILE_TOO_LARGE", 413, f"File too large: {path}", details)
    return AgentError("FILE_OPERATION_FAILED", 500, f"{exc.strerror or exc}: {path}", {**details, "errno": e})
