"""Where a node's sqlite store lives when the command line does not say.

A node on a fixed port keeps its data in a folder named after its address
(``$XDG_DATA_HOME/pushchat/node-127.0.0.1-48000``), so a restart on the
same address finds it, whichever command starts the node: ``pushchat up``
and ``pushchat node`` on one address share one folder, so switching from the
first look to separate processes keeps the rooms. A node on port 0 gets a
new port each time, and so could never find its data again: it uses a
temporary folder, removed when it stops, and says so (see
:class:`system.node.NodeServer`). ``--data-dir`` always wins.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The prefix ``pushchat up`` used for its own folder before it shared the node's; such a folder is taken over.
_OLD_UP_PREFIX = "up-"


def default_data_dir(listen: str) -> Path:
    """The folder for a node listening on ``listen``: one per address."""
    root = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    name = listen.replace("[", "").replace("]", "").replace(":", "-")
    return root / "pushchat" / f"node-{name}"


def data_dir(store: str, given: str | None, listen: str) -> str | None:
    """The folder for the node's sqlite store; None for another store, or for a temporary folder (port 0).

    A folder an older ``pushchat up`` left for this address (``up-HOST-PORT``) becomes the node's when the
    node has none yet, so its rooms are not lost to the change of name."""
    if store != "sqlite":
        return None
    if given:
        return given
    if listen.endswith(":0"):
        return None
    folder = default_data_dir(listen)
    old = folder.with_name(_OLD_UP_PREFIX + folder.name.removeprefix("node-"))
    if not folder.exists() and old.is_dir():
        try:
            old.rename(folder)
        except OSError:  # another process took it meanwhile: the node's folder is used as it is
            pass
    return str(folder)
