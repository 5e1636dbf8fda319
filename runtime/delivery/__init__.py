"""Delivering many items: `deliver()` on a thread pool and the background `DeliveryQueue`, every item reported."""

from .pool import DeliveryReport, ItemOutcome, deliver, run_item, with_dedupe_id, with_dedupe_ids
from .queue import DeliveryQueue

__all__ = ["DeliveryQueue", "DeliveryReport", "ItemOutcome", "deliver", "run_item", "with_dedupe_id",
           "with_dedupe_ids"]
