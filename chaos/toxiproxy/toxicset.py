"""A proxy's toxics: two ordered chains (upstream, downstream) applied to live pipes.

The JSON rules of ``/proxies/{name}/toxics`` live here (sans-I/O parsing in
:func:`parse_toxic` and :func:`parse_toxic_update`); :class:`ToxicSet` keeps
the chains and pushes every change to the pipes that are open, so adding,
updating or removing a toxic acts on existing connections too.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Protocol

from .decode import ApiError, decode_fields
from .toxics import Toxic, toxic_class

__all__ = ["UPSTREAM", "DOWNSTREAM", "DIRECTIONS", "ToxicSpec", "ToxicSet",
           "parse_toxic", "parse_toxic_update", "json_number"]

UPSTREAM, DOWNSTREAM = 0, 1
DIRECTIONS = ("upstream", "downstream")

ERR_INVALID_STREAM = ApiError("stream was invalid, can be either upstream or downstream", 400)
ERR_INVALID_TYPE = ApiError("invalid toxic type", 400)
ERR_TOXIC_EXISTS = ApiError("toxic already exists", 409)
ERR_TOXIC_NOT_FOUND = ApiError("toxic not found", 404)

# Go's types, as its decoding errors name them. A create body is decoded twice:
# into a ToxicWrapper whose attributes are still a NoopToxic, then, once the
# type is known, its attributes alone; an update body into an anonymous struct.
_CREATE_TYPE = "toxics.ToxicWrapper"
_CREATE_FIELDS = {"name": "string", "type": "string", "stream": "string",
                  "toxicity": "float32", "attributes": "toxics.NoopToxic"}
_UPDATE_TYPE = 'struct { Attributes interface {} "json:\\"attributes\\""; Toxicity float32 "json:\\"toxicity\\"" }'


def json_number(value: float) -> float | int:
    """Render a float as Go does: ``1`` rather than ``1.0``."""
    return int(value) if float(value).is_integer() else value


class ToxicSpec:
    """One toxic of a proxy: its settings, shared by every pipe it runs on."""

    __slots__ = ("name", "type", "stream", "direction", "toxicity", "toxic")

    def __init__(self, name: str, stream: str, direction: int, toxicity: float, toxic: Toxic) -> None:
        self.name = name
        self.type = toxic.TYPE
        self.stream = stream
        self.direction = direction
        self.toxicity = toxicity
        self.toxic = toxic

    def to_json(self) -> dict[str, Any]:
        return {"attributes": self.toxic.attributes(), "name": self.name, "type": self.type,
                "stream": self.stream, "toxicity": json_number(self.toxicity)}


def parse_toxic(value: Any, exists: Callable[[str], bool]) -> ToxicSpec:
    """Validate a create body in the real server's order: body, stream, type, name, attributes."""
    fields = decode_fields(value, "ToxicWrapper", _CREATE_FIELDS, _CREATE_TYPE)
    stream = fields.get("stream", "downstream")
    try:
        direction = DIRECTIONS.index(stream.lower())
    except ValueError:
        raise ERR_INVALID_STREAM from None
    type_ = fields.get("type", "")
    name = fields.get("name") or f"{type_}_{stream}"
    cls = toxic_class(type_)
    if cls is None:
        raise ERR_INVALID_TYPE
    if exists(name):
        raise ERR_TOXIC_EXISTS
    toxic = cls().merged(fields.get("attributes"))
    return ToxicSpec(name, stream, direction, fields.get("toxicity", 1.0), toxic)


def parse_toxic_update(spec: ToxicSpec, value: Any) -> tuple[Toxic, float]:
    """Only ``attributes`` (merged over the current ones) and ``toxicity`` change."""
    update_fields = {"toxicity": "float32", "attributes": f"toxics.{spec.toxic.GO_NAME}"}
    fields = decode_fields(value, "", update_fields, _UPDATE_TYPE)
    return spec.toxic.merged(fields.get("attributes")), fields.get("toxicity", spec.toxicity)


class PipeLike(Protocol):
    """What the toxic set needs of a pipe (``pipe.Pipe``, which imports this module)."""

    direction: int

    def start(self, specs: list[ToxicSpec]) -> None: ...
    def add_stage(self, spec: ToxicSpec) -> None: ...
    async def restart_stage(self, spec: ToxicSpec) -> None: ...
    async def remove_stage(self, spec: ToxicSpec) -> None: ...


class ToxicSet:
    """The toxics of one proxy and the live pipes they act on."""

    def __init__(self) -> None:
        self.chains: tuple[list[ToxicSpec], list[ToxicSpec]] = ([], [])
        self.pipes: tuple[set[PipeLike], set[PipeLike]] = (set(), set())
        self._lock = asyncio.Lock()

    def find(self, name: str) -> ToxicSpec | None:
        for chain in self.chains:
            for spec in chain:
                if spec.name == name:
                    return spec
        return None

    def get(self, name: str) -> ToxicSpec:
        spec = self.find(name)
        if spec is None:
            raise ERR_TOXIC_NOT_FOUND
        return spec

    def to_json(self) -> list[dict[str, Any]]:
        """Upstream toxics first, then downstream, each in insertion order."""
        return [spec.to_json() for chain in self.chains for spec in chain]

    def __len__(self) -> int:
        return len(self.chains[0]) + len(self.chains[1])

    async def add(self, value: Any) -> ToxicSpec:
        async with self._lock:
            spec = parse_toxic(value, lambda name: self.find(name) is not None)
            self.chains[spec.direction].append(spec)
            for pipe in list(self.pipes[spec.direction]):
                pipe.add_stage(spec)
            return spec

    async def update(self, name: str, value: Any) -> ToxicSpec:
        async with self._lock:
            spec = self.get(name)
            spec.toxic, spec.toxicity = parse_toxic_update(spec, value)
            await asyncio.gather(*(pipe.restart_stage(spec) for pipe in list(self.pipes[spec.direction])))
            return spec

    async def remove(self, name: str) -> ToxicSpec:
        async with self._lock:
            spec = self.get(name)
            await self._remove(spec)
            return spec

    async def clear(self) -> None:
        async with self._lock:
            for chain in self.chains:
                for spec in list(chain):
                    await self._remove(spec)

    async def _remove(self, spec: ToxicSpec) -> None:
        self.chains[spec.direction].remove(spec)
        await asyncio.gather(*(pipe.remove_stage(spec) for pipe in list(self.pipes[spec.direction])))

    def attach(self, pipe: PipeLike) -> None:
        self.pipes[pipe.direction].add(pipe)
        pipe.start(list(self.chains[pipe.direction]))

    def detach(self, pipe: PipeLike) -> None:
        self.pipes[pipe.direction].discard(pipe)
