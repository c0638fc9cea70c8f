"""Files: the path policy, atomic writes, streamed transfers, multipart uploads, watches, and the
service that offers them to the API (see service.py for the map)."""

from .service import FileService

__all__ = ["FileService"]
