"""A real full disk for a test: a tiny tmpfs at /mnt, private to one process tree (``unshare -rm``)."""

from __future__ import annotations

import shlex
import shutil
import subprocess

UNSHARE = shutil.which("unshare")


def private_tmpfs_works() -> bool:
    """Can this machine give a process its own mount namespace with a tmpfs (no root needed with -r)?"""
    if not UNSHARE:
        return False
    probe = subprocess.run([UNSHARE, "-rm", "sh", "-c", "mount -t tmpfs -o size=64k none /mnt"],
                           capture_output=True, check=False)
    return probe.returncode == 0


def on_full_disk(argv: list[str], size: str = "1m") -> list[str]:
    """``argv`` run with a ``size`` tmpfs mounted at /mnt that only it sees: writes there fill it for real."""
    assert UNSHARE is not None
    command = " ".join(shlex.quote(a) for a in argv)
    return [UNSHARE, "-rm", "sh", "-c", f"mount -t tmpfs -o size={size} none /mnt && exec {command}"]


SKIP_REASON = "needs unshare -rm and a tmpfs mount to make a real full disk"
