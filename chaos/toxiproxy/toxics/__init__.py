"""Toxics, one module each, registered by their JSON ``type``.

Standard (as in Toxiproxy 2.12): latency, bandwidth, slow_close, timeout,
reset_peer, slicer, limit_data, noop. Extensions (ours only): stall, reset.
"""

from __future__ import annotations

from . import (bandwidth, latency, limit_data, noop, reset, reset_peer,  # noqa: F401  (registers)
               slicer, slow_close, stall, timeout)
from .base import REGISTRY, Toxic, offer_extensions, offered_extensions, register, toxic_class
from .stage import WAKE, Channel, Chunk, Meter, Stub

__all__ = ["REGISTRY", "Toxic", "register", "toxic_class", "offer_extensions", "offered_extensions",
           "Channel", "Chunk", "Meter", "Stub", "WAKE"]
