"""Request bodies decoded the way Go's encoding/json does."""

from __future__ import annotations

import pytest

from chaos.toxiproxy.decode import ApiError, decode_fields, parse_body


def test_parse_body_takes_the_first_value_like_go() -> None:
    assert parse_body(b' {"a": 1} trailing') == {"a": 1}
    for raw, message in [(b"", "bad request body: EOF"), (b"  ", "bad request body: EOF"),
                         (b'{"a": ', "bad request body: unexpected EOF"),
                         (b"x", "bad request body: invalid character 'x' looking for beginning of value")]:
        with pytest.raises(ApiError) as info:
            parse_body(raw)
        assert (info.value.message, info.value.status) == (message, 400)


def test_decode_fields_matches_keys_case_insensitively_and_skips_null() -> None:
    fields = {"name": "string", "enabled": "bool"}
    assert decode_fields({"NAME": "a", "enabled": None, "other": 1}, "Proxy", fields) == {"name": "a"}
    assert decode_fields(None, "Proxy", fields) == {}
