"""Compatibility shim: `relaykit.delivery_queue.DeliveryQueue` is documented; it lives in `relaykit.delivery.queue`."""

from .delivery.queue import DeliveryQueue

__all__ = ["DeliveryQueue"]
