"""Toxics, one module each, registered by their JSON ``type``.

Standard (as in Toxiproxy 2.12): latency, bandwidth, slow_close, timeout,
reset_peer, slicer, limit_data, noop; and packet_loss, upstream's since
(after 2.12.0). Extensions (ours only): stall, reset.

Every module of this package is imported here, so a new toxic is one file:
``toxics/foo.py`` with a ``@register("foo")`` class (``extension=True`` if
the real server has no such toxic). :data:`EXTENSIONS` is derived from the
registry; the rest of the harness takes it from here.
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import REGISTRY, Toxic, offer_extensions, offered_extensions, register, toxic_class
from .stage import WAKE, Channel, Chunk, Meter, Stub

__all__ = ["REGISTRY", "EXTENSIONS", "Toxic", "register", "toxic_class", "offer_extensions",
           "offered_extensions", "Channel", "Chunk", "Meter", "Stub", "WAKE"]

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")  # each toxic registers itself

#: The toxic types only our server has (never offered with ``--standard``).
EXTENSIONS: frozenset[str] = frozenset(name for name, cls in REGISTRY.items() if cls.EXTENSION)
