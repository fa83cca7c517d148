"""Kueue objects from the policies' quotas (SPEC 2.5): ``compile queues``. Pure: loaded policies
in, plain objects out, in a fixed order, so the output is the same byte for byte every time."""

from .kueue import KUEUE_API, queue_objects, quota_summary
from .review import quota_changes

__all__ = ["KUEUE_API", "queue_objects", "quota_changes", "quota_summary"]
