"""The toxic contract and the registry of toxic types.

A toxic is a dataclass whose integer fields are its JSON ``attributes`` and
whose ``pipe(stub)`` coroutine moves chunks from ``stub.input`` to
``stub.output`` until end of stream. One instance is shared by every pipe
the toxic applies to; per-pipe data lives in ``stub.state``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from ..decode import decode_fields
from .stage import Stub

__all__ = ["Toxic", "REGISTRY", "register", "toxic_class", "offer_extensions", "offered_extensions"]

REGISTRY: dict[str, type["Toxic"]] = {}
_offer_extensions = True


def register(name: str, *, extension: bool = False, go_name: str | None = None):
    """Class decorator: make a toxic available under ``name`` (its JSON ``type``).

    ``extension``: the real server has no such toxic; ``--standard`` hides it.

    ``go_name`` is the real server's struct for it (default ``<Class>Toxic``),
    which Go names in a decoding error: ``LatencyToxic.attributes.latency``.
    """

    def deco(cls: type[Toxic]) -> type[Toxic]:
        if name in REGISTRY:
            raise ValueError(f"toxic type {name!r} is registered twice: {REGISTRY[name].__module__} "
                             f"and {cls.__module__}")
        cls = dataclasses.dataclass(cls)
        cls.TYPE = name
        cls.GO_NAME = go_name or f"{cls.__name__}Toxic"
        cls.EXTENSION = extension
        REGISTRY[name] = cls
        return cls

    return deco


def toxic_class(name: str) -> type["Toxic"] | None:
    cls = REGISTRY.get(name)
    return None if cls is None or (cls.EXTENSION and not _offer_extensions) else cls


def offer_extensions(on: bool) -> None:
    """Off (``--standard``): behave as the real server, which knows no extension toxic."""
    global _offer_extensions
    _offer_extensions = on


def offered_extensions() -> list[str]:
    return sorted(name for name, cls in REGISTRY.items() if cls.EXTENSION and _offer_extensions)


class Toxic:
    """Base class; subclasses are dataclasses of ``int`` attributes (Go's int64) or ``float`` ones (float64)."""

    TYPE: ClassVar[str] = ""
    GO_NAME: ClassVar[str] = ""
    EXTENSION: ClassVar[bool] = False

    async def pipe(self, stub: Stub) -> None:
        raise NotImplementedError

    def new_state(self) -> Any:
        """Per-pipe state, kept while the toxic stays on the pipe (updates included)."""
        return None

    def cleanup(self, stub: Stub) -> None:
        """Called when the toxic is removed from a live pipe, after its stage stopped."""

    def attributes(self) -> dict[str, Any]:
        """As the real server writes them: a whole float64 as Go's encoder does (``0``, not ``0.0``)."""
        return {k: int(v) if isinstance(v, float) and v.is_integer() else v
                for k, v in dataclasses.asdict(self).items()}  # type: ignore[call-overload]

    def merged(self, attributes: Any) -> "Toxic":
        """A copy with ``attributes`` (a decoded JSON value) merged over these ones."""
        fields = {f.name: "float64" if f.type in (float, "float") else "int64"
                  for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        struct = f"{self.GO_NAME}.attributes"
        changes = decode_fields(attributes, struct, fields)
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]
