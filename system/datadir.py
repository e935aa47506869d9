"""Where a node's sqlite store lives when the command line does not say.

A node on a fixed port keeps its data in a folder named after its address
(``$XDG_DATA_HOME/pushchat/node-127.0.0.1-48000``), so a restart on the
same address finds it. A node on port 0 gets a new port each time, and so
could never find its data again: it uses a temporary folder, removed when it
stops, and says so (see :class:`system.node.NodeServer`). ``--data-dir``
always wins.
"""

from __future__ import annotations

import os
from pathlib import Path


def default_data_dir(listen: str, role: str = "node") -> Path:
    """The folder for a node listening on ``listen``: one per address."""
    root = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    name = listen.replace("[", "").replace("]", "").replace(":", "-")
    return root / "pushchat" / f"{role}-{name}"


def data_dir(store: str, given: str | None, listen: str, role: str = "node") -> str | None:
    """The folder for the node's sqlite store; None for another store, or for a temporary folder (port 0)."""
    if store != "sqlite":
        return None
    if given:
        return given
    return None if listen.endswith(":0") else str(default_data_dir(listen, role))
