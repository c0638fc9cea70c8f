"""Describing what is on disk: a listing of a directory (bounded) and the FileInfo of one entry.

Blocking; run in the file service's executor.
"""

from __future__ import annotations

import heapq
import os
import stat
from collections.abc import Iterator

from ..core.clock import iso_from_epoch
from ..models.files import FileInfo
from .errors import invalid_path, os_error


def file_info(entry_path: str, name: str, display_path: str) -> FileInfo:
    """FileInfo of the contract; symlinks are described by what they point to when it exists."""
    lst = os.lstat(entry_path)
    is_link = stat.S_ISLNK(lst.st_mode)
    st = lst
    if is_link:
        try:
            st = os.stat(entry_path)
        except OSError:
            pass  # a dangling link: describe the link itself
    is_dir = stat.S_ISDIR(st.st_mode)
    is_file = stat.S_ISREG(st.st_mode)
    modified = iso_from_epoch(st.st_mtime)
    return {
        "name": name,
        "path": display_path,
        "size": 0 if is_dir else st.st_size,
        "is_directory": is_dir,
        "is_dir": is_dir,
        "is_file": is_file,
        "is_symlink": is_link,
        "type": "directory" if is_dir else "file" if is_file else "symlink" if is_link else "other",
        "permissions": stat.filemode(st.st_mode),
        "mode": format(stat.S_IMODE(st.st_mode), "04o"),
        "modified_time": modified,
        "modified": modified,  # the JS SDK's name
    }


def list_directory(path: str, shown: str, raw: str, limit: int) -> tuple[list[FileInfo], int]:
    """The first `limit` entries of `path` by name, described under `shown`, and how many there
    are in all; never holds more than `limit` names at once. `raw` names the path in errors."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise os_error(exc, raw, directory=True) from None
    if not stat.S_ISDIR(st.st_mode):
        raise invalid_path(f"Not a directory: {raw}", raw)
    seen = 0

    def names() -> Iterator[str]:
        nonlocal seen
        with os.scandir(path) as it:
            for entry in it:
                seen += 1
                yield entry.name

    try:
        kept = heapq.nsmallest(limit, names())
    except OSError as exc:
        raise os_error(exc, raw, directory=True) from None
    out = []
    for name in kept:
        try:
            out.append(file_info(os.path.join(path, name), name, os.path.join(shown, name)))
        except FileNotFoundError:
            continue  # removed while listing
        except OSError as exc:
            raise os_error(exc, raw, directory=True) from None
    return out, seen
