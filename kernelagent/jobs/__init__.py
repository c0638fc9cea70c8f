"""Jobs: the registry (registry.py) of jobs (job.py), their spill files (spill.py) and webhooks (webhook.py)."""

from .job import Job
from .registry import JobService

__all__ = ["Job", "JobService"]
