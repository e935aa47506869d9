"""A proxy's listener and its open connections when it is disabled, enabled, deleted."""

from __future__ import annotations

import pytest

from tests.chaos.toxiproxy.sockets import connect, recv_until_eof, round_trip


def test_disable_enable_and_delete_with_open_connections(make_link, conn_to) -> None:
    link = make_link()
    sock = conn_to(link)
    round_trip(sock)
    link.disable()
    assert recv_until_eof(sock) == b""
    with pytest.raises(ConnectionRefusedError):
        connect(link.listen)
    link.enable()
    again = conn_to(link)
    round_trip(again)
    link.delete()
    assert recv_until_eof(again) == b""
    with pytest.raises(ConnectionRefusedError):
        connect(link.listen)
