"""Request bodies decoded the way the real server's Go ``encoding/json`` does.

Sans-I/O: bytes in, plain values or an :class:`ApiError` out. The real
server decodes the first JSON value of a body (trailing bytes are ignored),
matches object keys to fields case-insensitively, treats ``null`` as "leave
the default", and reports a type mismatch as ``bad request body: json:
cannot unmarshal <kind> into Go struct field <T.field> of type <type>``.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["ApiError", "bad_body", "parse_body", "decode_fields", "kind_of"]


class ApiError(Exception):
    """An error the API reports as ``{"error": message, "status": status}``."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def to_json(self) -> dict[str, Any]:
        return {"error": self.message, "status": self.status}


def bad_body(detail: str) -> ApiError:
    return ApiError(f"bad request body: {detail}", 400)


_EXPECTING = {
    "Expecting value": "looking for beginning of value",
    "Expecting property name enclosed in double quotes": "looking for beginning of object key string",
    "Expecting ':' delimiter": "after object key",
    "Expecting ',' delimiter": "after object key:value pair",
}


def parse_body(raw: bytes) -> Any:
    """The first JSON value in ``raw``; ``bad request body: ...`` if there is none."""
    text = raw.decode("utf-8", errors="replace")
    start = len(text) - len(text.lstrip(" \t\r\n"))
    if start == len(text):
        raise bad_body("EOF")
    try:
        value, _ = json.JSONDecoder().raw_decode(text, start)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text):
            raise bad_body("unexpected EOF") from None
        context = _EXPECTING.get(exc.msg, exc.msg.lower())
        raise bad_body(f"invalid character {text[exc.pos]!r} {context}") from None
    return value


def kind_of(value: Any) -> str:
    """The JSON kind Go names in an unmarshal error."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _type_error(value: Any, where: str, gotype: str) -> ApiError:
    kind = kind_of(value)
    if kind == "number" and gotype.startswith(("int", "uint")):
        kind = f"number {json.dumps(value)}"
    return bad_body(f"json: cannot unmarshal {kind} into Go {where} of type {gotype}")


_SCALARS = frozenset({"string", "bool", "int64", "float32", "float64"})


def _convert(value: Any, gotype: str, where: str) -> Any:
    if gotype not in _SCALARS and isinstance(value, dict):  # a Go struct: any object decodes into it
        return value
    if gotype == "string" and isinstance(value, str):
        return value
    if gotype == "bool" and isinstance(value, bool):
        return value
    if gotype == "int64" and isinstance(value, int) and not isinstance(value, bool):
        if -(1 << 63) <= value < (1 << 63):
            return value
    if gotype in ("float32", "float64") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise _type_error(value, where, gotype)


def decode_fields(value: Any, struct: str, fields: dict[str, str], gotype: str | None = None
                  ) -> dict[str, Any]:
    """Decode a JSON object into the named, typed ``fields``; absent or null ones are left out.

    ``struct`` prefixes a field in a type error (``Proxy`` gives ``Proxy.name``;
    an anonymous Go struct has the empty name, giving ``.name``); ``gotype``
    names the whole type when ``value`` is no object (default ``struct``).
    A field whose type is not a scalar is a Go struct: any object fits it.
    ``value`` of ``None`` decodes to nothing, as Go's decoder does with ``null``.
    Unknown keys are ignored and keys match field names case-insensitively.
    """
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _type_error(value, "value", gotype or struct)
    by_lower = {name.lower(): name for name in fields}
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = key if key in fields else by_lower.get(key.lower())
        if name is None or item is None:
            continue
        out[name] = _convert(item, fields[name], f"struct field {struct}.{name}")
    return out
