"""The embedded stack behind ``polku dev``: Temporal dev server, NATS, and the Polku processes.

Entry points
------------
``run_dev(settings, child_commands, after_servers_ready=None, after_children_ready=None,
*, child_env=None, stop_timeout=10.0) -> int``
    Synchronous; runs its own event loop (``asyncio.run``), so call it from the main thread
    with no loop running. Returns the process exit code:
    0 after Ctrl-C / SIGTERM; 1 when a server or child exited (with any code: children are
    meant to run until stopped) or start-up failed (a callback raised, a server did not get
    ready); 2 when a port is busy or set twice, or child names clash (one line on stderr,
    nothing started). All messages go to stderr, prefixed ``polku dev:``.
    Example (the CLI)::

        rc = run_dev(
            settings,
            [("web", [sys.executable, "-m", "polku", "serve", "all"]),
             ("worker", [sys.executable, "-m", "polku", "worker"])],
            after_servers_ready=run_migrations,  # async def () -> None
            after_children_ready=load_demo_and_print_urls,  # async def () -> None
        )
        raise typer.Exit(rc)

    Ports checked: ``http_port`` (POLKU_HTTP_PORT), the port of ``temporal_address``
    (POLKU_TEMPORAL_ADDRESS), ``temporal_ui_port`` (POLKU_TEMPORAL_UI_PORT), ``nats_port``
    (POLKU_NATS_PORT). The stack ensures the streams on ``nats://127.0.0.1:{nats_port}`` and
    warns when ``nats_url`` points elsewhere. Children get ``os.environ`` as is: the caller
    puts any POLKU_* values the children need there (or passes ``child_env``).

``run_dev_async(...)``
    The same as a coroutine, for callers that already run a loop (it installs SIGINT/SIGTERM
    handlers on the running loop, so it must run on the main thread).

Sequence: check ports -> Temporal dev server (``{data_dir}/temporal.db``) -> nats-server
(``{data_dir}/nats``) -> ``ensure_streams`` -> ``await after_servers_ready()`` -> start
``child_commands`` (``[(name, argv), ...]``, env ``os.environ`` unless ``child_env``) ->
``await after_children_ready()`` -> supervise until a signal or a death. Logs go to
``{data_dir}/logs/{temporal,nats,<child name>}.log`` (the previous run's log is kept as
``<name>.log.1``). Shutdown: children first (SIGTERM to each process group, SIGKILL after
``stop_timeout``), then nats-server, then Temporal. A second Ctrl-C kills at once.

``cluster=True`` (``polku dev --cluster``): instead of one nats-server, three clustered on
loopback (``nats_port``..+2 for clients, ``nats_cluster_port``..+2 for routes, stores in
``{data_dir}/nats-{1,2,3}``) holding the streams with three replicas, and PostgreSQL
(``{data_dir}/postgres``, port ``postgres_port``, database ``polku``) started from the
machine's binaries; the ports of ``service_port_base``..+3 are checked too. One NATS node
may die without stopping the stack (two keep the quorum). ``cluster_settings`` and
``cluster_env`` give the settings and environment of the processes of that topology.

Every process runs in its own process group (new session) and, on Linux, gets
``PR_SET_PDEATHSIG`` = SIGKILL, so it dies with ``polku dev`` even if that is SIGKILLed.
The death signal follows the *thread* that started the process: start processes from a
thread that lives as long as they should (the main thread).

Reusable pieces: ``start_temporal_dev_server``, ``start_nats_server``, ``start_nats_cluster``,
``start_postgres``, ``start_process``, ``ManagedProcess``, ``wait_temporal_ready``,
``wait_nats_ready``, ``wait_nats_cluster_ready``, ``wait_postgres_ready``, ``free_port``,
``port_in_use``, ``find_binary``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import traceback
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar
from urllib.parse import urlsplit

from shared.contracts.journey import SEARCH_ATTRIBUTES
from shared.settings import Settings

__all__ = [
    "DevStackError",
    "ManagedProcess",
    "PortCheck",
    "check_ports",
    "cluster_env",
    "cluster_settings",
    "find_binary",
    "free_port",
    "port_in_use",
    "run_dev",
    "run_dev_async",
    "start_nats_cluster",
    "start_nats_server",
    "start_postgres",
    "start_process",
    "start_temporal_dev_server",
    "temporal_dev_server_args",
    "wait_nats_cluster_ready",
    "wait_nats_ready",
    "wait_postgres_ready",
    "wait_temporal_ready",
]

PREFIX = "polku dev"
_PR_SET_PDEATHSIG = 1
# Temporal needs a few seconds for a fresh SQLite file on a busy 2-core machine.
TEMPORAL_START_TIMEOUT_S = 60.0
NATS_START_TIMEOUT_S = 30.0
# A fresh three-node JetStream cluster elects its meta leader within a few seconds.
NATS_CLUSTER_START_TIMEOUT_S = 60.0
POSTGRES_START_TIMEOUT_S = 60.0
NATS_CLUSTER_SIZE = 3
NATS_CLUSTER_NAME = "polku"
PG_BIN = Path(os.environ.get("POLKU_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_OS_USER = "postgres"  # the OS user PostgreSQL runs as when polku dev runs as root

T = TypeVar("T")
ChildCommand = tuple[str, list[str]]
Hook = Callable[[], Awaitable[None]]


class DevStackError(RuntimeError):
    """A start-up failure with a message meant for the terminal as is."""


# --------------------------------------------------------------------------- ports


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now (the OS picks it; another process may take it later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_in_use(host: str, port: int) -> bool:
    """True if a server could not bind ``host:port`` now (someone listens there).

    Binds the way servers do (``SO_REUSEADDR``, so a port in TIME_WAIT counts as free).
    Errors other than "address in use" (e.g. a host that is not local) are raised.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def _port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class PortCheck:
    host: str
    port: int
    setting: str  # the environment variable that changes it


def _split_host_port(address: str, default_port: int) -> tuple[str, int]:
    parsed = urlsplit(address if "://" in address else f"//{address}")
    return parsed.hostname or "127.0.0.1", parsed.port or default_port


def _bind_ip(host: str) -> str:
    return "127.0.0.1" if host in ("", "localhost") else host


def _dev_ports(settings: Settings) -> list[PortCheck]:
    temporal_host, temporal_port = _split_host_port(settings.temporal_address, 7233)
    temporal_ip = _bind_ip(temporal_host)
    return [
        PortCheck(_bind_ip(settings.http_host), settings.http_port, "POLKU_HTTP_PORT"),
        PortCheck(temporal_ip, temporal_port, "POLKU_TEMPORAL_ADDRESS"),
        PortCheck(temporal_ip, settings.temporal_ui_port, "POLKU_TEMPORAL_UI_PORT"),
        PortCheck("127.0.0.1", settings.nats_port, "POLKU_NATS_PORT"),
    ]


def _cluster_ports(settings: Settings) -> list[PortCheck]:
    """``polku dev --cluster``: the dev ports, two more NATS client ports, the NATS route
    ports, PostgreSQL and one port per service."""
    from shared.settings import SERVICES

    checks = _dev_ports(settings)
    checks += [PortCheck("127.0.0.1", settings.nats_port + i, "POLKU_NATS_PORT") for i in range(1, NATS_CLUSTER_SIZE)]
    checks += [
        PortCheck("127.0.0.1", settings.nats_cluster_port + i, "POLKU_NATS_CLUSTER_PORT")
        for i in range(NATS_CLUSTER_SIZE)
    ]
    checks.append(PortCheck("127.0.0.1", settings.postgres_port, "POLKU_POSTGRES_PORT"))
    checks += [
        PortCheck("127.0.0.1", settings.service_port_base + i, "POLKU_SERVICE_PORT_BASE") for i in range(len(SERVICES))
    ]
    return checks


def check_ports(checks: Sequence[PortCheck]) -> str | None:
    """The one-line problem with the first unusable port, or None when all are free."""
    seen: dict[int, str] = {}
    for check in checks:
        if check.port in seen:
            return (
                f"{PREFIX}: port {check.port} is set for both {seen[check.port]} and "
                f"{check.setting}; give each its own port"
            )
        seen[check.port] = check.setting
    for check in checks:
        try:
            busy = port_in_use(check.host, check.port)
        except OSError as exc:
            return f"{PREFIX}: cannot use {check.host}:{check.port} ({exc.strerror}); check {check.setting}"
        if busy:
            return f"{PREFIX}: port {check.port} is already in use; set {check.setting} to use another port"
    return None


# --------------------------------------------------------------------------- processes


def find_binary(name: str) -> str:
    """``name`` next to the running interpreter (the venv's bin), else on PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise DevStackError(f"{PREFIX}: cannot find the {name!r} program (install the project with `uv sync`)")
    return found


def _load_prctl() -> Callable[[int, int, int, int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    fn: Callable[[int, int, int, int, int], int] = prctl
    return fn


# Resolved once in the parent: the child (between fork and exec) only calls it.
_PRCTL = _load_prctl()


def _death_signal_preexec(sig: int) -> Callable[[], None] | None:
    if _PRCTL is None:
        return None
    prctl = _PRCTL
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        # The parent may have died between fork() and prctl(): then nobody would signal us.
        if os.getppid() != parent:
            os._exit(1)

    return preexec


def _rotate_log(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.stat().st_size > 0:
        os.replace(path, path.with_name(path.name + ".1"))


def _tail(path: Path | None, lines: int) -> str:
    if path is None or not path.exists():
        return ""
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        return "".join(deque(fh, maxlen=lines))


@dataclass
class ManagedProcess:
    """A process in its own process group; ``stop()`` ends the whole group."""

    name: str
    argv: list[str]
    popen: subprocess.Popen[bytes]
    log_path: Path | None
    # Sent to the group by terminate()/stop(); e.g. SIGINT for PostgreSQL's fast shutdown.
    stop_signal: int = signal.SIGTERM
    returncode: int | None = field(default=None, init=False)
    _stopped: bool = field(default=False, init=False, repr=False)

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def pgid(self) -> int:
        return self.popen.pid  # started with start_new_session=True

    def poll(self) -> int | None:
        return self.popen.poll()

    def running(self) -> bool:
        return self.popen.poll() is None

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, sig)

    def terminate(self) -> None:
        """``stop_signal`` (SIGTERM) to the whole group (a no-op once it is gone)."""
        self.signal_group(self.stop_signal)

    def kill(self) -> None:
        """SIGKILL to the whole group, including members that outlived the leader."""
        self.signal_group(signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> int | None:
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM (``stop_signal``) the group, wait up to ``timeout`` s, then SIGKILL it.

        Returns the exit code. Calling it again does nothing more."""
        if self._stopped:
            return self.returncode
        if self.running():
            self.terminate()
            if self.wait(timeout) is None:
                self.kill()
                self.wait(5.0)
        self.kill()  # sweep group members left behind by the leader
        return self._mark_stopped()

    async def stop_async(self, grace_s: float = 10.0, force: asyncio.Event | None = None) -> int | None:
        """``stop()`` without blocking the loop; ``force`` set -> SIGKILL at once."""
        if self._stopped:
            return self.returncode
        if self.running():
            self.terminate()
            await self._wait_gone(grace_s, force)
            if self.running():
                self.kill()
                await self._wait_gone(5.0, None)
        self.kill()
        return self._mark_stopped()

    def _mark_stopped(self) -> int | None:
        # Once stopped, never signal the group id again: the number could be reused.
        self.returncode = self.popen.poll()
        self._stopped = self.returncode is not None
        return self.returncode

    async def _wait_gone(self, seconds: float, force: asyncio.Event | None) -> None:
        for _ in range(max(1, int(seconds / 0.05))):
            if not self.running() or (force is not None and force.is_set()):
                return
            await asyncio.sleep(0.05)

    def tail(self, lines: int = 20) -> str:
        """The last lines of the log file."""
        return _tail(self.log_path, lines)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_process(
    name: str,
    argv: Sequence[str],
    log_path: Path | None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    death_signal: int = signal.SIGKILL,
    user: str | None = None,
    stop_signal: int = signal.SIGTERM,
) -> ManagedProcess:
    """Start ``argv`` in a new session/process group, stdout+stderr to ``log_path``
    (rotated to ``.1`` first; None = discard), stdin from /dev/null, and (Linux) with
    ``death_signal`` delivered when the starting thread dies. ``user``: run as that OS
    user (needs root; the death signal is set after the switch, so it still holds)."""
    argv = list(argv)
    if log_path is not None:
        _rotate_log(log_path)
        out = open(log_path, "wb")  # noqa: SIM115 - handed to the child, closed below
    else:
        out = open(os.devnull, "wb")  # noqa: SIM115
    try:
        popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
            # Only calls prctl (resolved in the parent): safe enough with threads.
            preexec_fn=_death_signal_preexec(death_signal),
            close_fds=True,
            user=user,
        )
    finally:
        out.close()
    return ManagedProcess(name=name, argv=argv, popen=popen, log_path=log_path, stop_signal=stop_signal)


def temporal_dev_server_args(
    db_path: Path | None,
    port: int,
    ui_port: int,
    *,
    ip: str = "127.0.0.1",
    namespaces: Iterable[str] = (),
    search_attributes: Mapping[str, str] = SEARCH_ATTRIBUTES,
    codec_endpoint: str | None = None,
) -> list[str]:
    args = ["server", "start-dev"]
    if db_path is not None:
        args += ["--db-filename", str(db_path)]
    args += ["--ip", ip, "--port", str(port), "--ui-port", str(ui_port)]
    if codec_endpoint is not None:
        # The Web UI decodes the encrypted payloads through Polku's codec server.
        args += ["--ui-codec-endpoint", codec_endpoint]
    for ns in namespaces:
        if ns != "default":
            args += ["--namespace", ns]
    for key, kind in search_attributes.items():
        args += ["--search-attribute", f"{key}={kind}"]
    args += [
        "--dynamic-config-value",
        "frontend.enableServerVersionCheck=false",
        "--ui-disable-news-fetch",
    ]
    if db_path is not None:
        args += [
            "--sqlite-pragma",
            "journal_mode=wal",
            "--sqlite-pragma",
            "synchronous=normal",
        ]
    args += ["--log-level", "warn"]
    return args


def start_temporal_dev_server(
    data_dir: Path | None,
    port: int,
    ui_port: int,
    log_path: Path | None,
    *,
    ip: str = "127.0.0.1",
    namespaces: Iterable[str] = (),
    search_attributes: Mapping[str, str] = SEARCH_ATTRIBUTES,
    codec_endpoint: str | None = None,
) -> ManagedProcess:
    """Start ``temporal server start-dev`` (not waiting; see ``wait_temporal_ready``).

    ``data_dir`` set: state in ``{data_dir}/temporal.db`` (kept across starts; the search
    attributes are registered again harmlessly). None: in memory, gone when it stops.
    """
    db_path: Path | None = None
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        db_path = data_dir.resolve() / "temporal.db"
    args = temporal_dev_server_args(
        db_path,
        port,
        ui_port,
        ip=ip,
        namespaces=namespaces,
        search_attributes=search_attributes,
        codec_endpoint=codec_endpoint,
    )
    argv = [find_binary("temporal"), *args]
    return start_process("temporal", argv, log_path)


def start_nats_server(store_dir: Path, port: int, log_path: Path | None, *, host: str = "127.0.0.1") -> ManagedProcess:
    """Start ``nats-server -js`` with its JetStream store in ``store_dir`` (not waiting)."""
    store_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        find_binary("nats-server"),
        "-js",
        "-sd",
        str(store_dir.resolve()),
        "-a",
        host,
        "-p",
        str(port),
    ]
    return start_process("nats", argv, log_path)


def nats_cluster_node_args(
    store_dir: Path,
    name: str,
    port: int,
    cluster_port: int,
    route_ports: Sequence[int],
    *,
    host: str = "127.0.0.1",
    cluster_name: str = NATS_CLUSTER_NAME,
) -> list[str]:
    """Arguments of one node of a JetStream cluster on ``host`` (routes to every node,
    itself included: nats-server skips its own)."""
    routes = ",".join(f"nats://{host}:{p}" for p in route_ports)
    return [
        "-js",
        "-sd",
        str(store_dir.resolve()),
        "-n",
        name,
        "-a",
        host,
        "-p",
        str(port),
        "--cluster_name",
        cluster_name,
        "--cluster",
        f"nats://{host}:{cluster_port}",
        "--routes",
        routes,
    ]


def start_nats_cluster(
    data_dir: Path, client_ports: Sequence[int], cluster_ports: Sequence[int], logs: Path | None
) -> list[ManagedProcess]:
    """Start one nats-server per port pair, clustered on loopback, each with JetStream in
    ``{data_dir}/nats-{i}`` (not waiting; see ``wait_nats_cluster_ready``)."""
    procs = []
    for i, (port, cluster_port) in enumerate(zip(client_ports, cluster_ports, strict=True), start=1):
        name = f"nats-{i}"
        store = data_dir / name
        store.mkdir(parents=True, exist_ok=True)
        argv = [find_binary("nats-server"), *nats_cluster_node_args(store, name, port, cluster_port, cluster_ports)]
        procs.append(start_process(name, argv, logs / f"{name}.log" if logs else None))
    return procs


async def wait_nats_cluster_ready(
    procs: Sequence[ManagedProcess],
    urls: Sequence[str],
    *,
    num_replicas: int,
    timeout_s: float = NATS_CLUSTER_START_TIMEOUT_S,
) -> None:
    """Wait until every node accepts connections and the cluster holds the streams with
    ``num_replicas`` replicas (that needs an elected JetStream meta leader and enough
    nodes). Raises DevStackError if a node dies or on timeout."""
    from shared.events.streams import ensure_streams

    for proc, url in zip(procs, urls, strict=True):
        await wait_nats_ready(proc, url, timeout_s=timeout_s, streams=False)
    deadline = time.monotonic() + timeout_s
    last_error = "no answer"
    while True:
        for proc in procs:
            if not proc.running():
                raise DevStackError(_died_message(proc, proc.name))
        try:
            await _unless_died(ensure_streams(urls[0], num_replicas=num_replicas), procs[0], 15.0)
            return
        except Exception as exc:  # noqa: BLE001 - retried until the deadline (no meta leader yet)
            last_error = str(exc) or type(exc).__name__
        if time.monotonic() > deadline:
            raise DevStackError(
                f"{PREFIX}: the NATS cluster did not take the streams ({num_replicas} replicas) in "
                f"{timeout_s:.0f} s ({last_error}); see the nats-*.log files"
            )
        await asyncio.sleep(0.5)


def _run_checked(argv: Sequence[str], *, user: str | None, cwd: Path, what: str) -> None:
    result = subprocess.run(list(argv), user=user, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise DevStackError(f"{PREFIX}: {what} failed (exit code {result.returncode}):\n{result.stdout}{result.stderr}")


def _check_reachable_by(user: str, directory: Path) -> None:
    """PostgreSQL runs as ``user``: every parent of its directory must let that user in."""
    probe = subprocess.run(["test", "-w", str(directory)], user=user, check=False)
    if probe.returncode != 0:
        raise DevStackError(
            f"{PREFIX}: PostgreSQL runs as the {user!r} user (polku dev runs as root), which cannot reach "
            f"{directory}; make its parent directories traversable (chmod o+x) or set POLKU_DATA_DIR elsewhere"
        )


def start_postgres(base_dir: Path, port: int, log_path: Path | None, *, pg_bin: Path = PG_BIN) -> ManagedProcess:
    """PostgreSQL from ``pg_bin`` with its cluster in ``{base_dir}/data`` (``initdb`` on the
    first start, kept afterwards), listening on 127.0.0.1:``port`` only (no Unix socket),
    trust authentication. As root it runs as the ``postgres`` OS user. Not waiting: see
    ``wait_postgres_ready``."""
    if not (pg_bin / "postgres").exists():
        raise DevStackError(f"{PREFIX}: PostgreSQL binaries not found in {pg_bin} (set POLKU_PG_BIN)")
    user = PG_OS_USER if os.geteuid() == 0 else None
    base_dir = base_dir.resolve()
    base_dir.mkdir(parents=True, exist_ok=True)
    data = base_dir / "data"
    if user is not None:
        import pwd

        entry = pwd.getpwnam(user)
        os.chown(base_dir, entry.pw_uid, entry.pw_gid)
        _check_reachable_by(user, base_dir)
    if not (data / "PG_VERSION").exists():
        _run_checked(
            [
                str(pg_bin / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
                "--no-instructions",
            ],
            user=user,
            cwd=base_dir,
            what="initdb",
        )
    argv = [
        str(pg_bin / "postgres"),
        "-D",
        str(data),
        "-p",
        str(port),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        "unix_socket_directories=",
        "-c",
        "max_connections=300",
        # Commits return before the WAL reaches the disk: a machine crash can lose the last
        # moments, never corrupt. Fine for a developer's data.
        "-c",
        "synchronous_commit=off",
    ]
    return start_process(
        "postgres",
        argv,
        log_path,
        cwd=base_dir,
        user=user,
        stop_signal=signal.SIGINT,  # fast shutdown, what `pg_ctl stop -m fast` sends
    )


def postgres_url(port: int) -> str:
    """The URL of the ``polku`` database that ``wait_postgres_ready`` creates."""
    return f"postgresql+asyncpg://polku:polku@127.0.0.1:{port}/polku"


async def wait_postgres_ready(
    proc: ManagedProcess | None, port: int, *, timeout_s: float = POSTGRES_START_TIMEOUT_S
) -> str:
    """Wait until PostgreSQL accepts connections, create role and database ``polku`` if
    they are missing, and return their URL (``postgres_url``)."""
    import asyncpg  # type: ignore[import-untyped]

    deadline = time.monotonic() + timeout_s
    last_error = "no answer"
    while True:
        if proc is not None and not proc.running():
            raise DevStackError(_died_message(proc, "PostgreSQL"))
        try:
            if _port_open("127.0.0.1", port):
                conn = await asyncpg.connect(
                    host="127.0.0.1", port=port, user="postgres", database="postgres", timeout=5
                )
                try:
                    if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = 'polku'"):
                        await conn.execute("CREATE ROLE polku LOGIN PASSWORD 'polku'")
                    if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = 'polku'"):
                        await conn.execute("CREATE DATABASE polku OWNER polku")
                finally:
                    await conn.close()
                return postgres_url(port)
        except Exception as exc:  # noqa: BLE001 - retried until the deadline (e.g. still starting up)
            last_error = str(exc) or type(exc).__name__
        if time.monotonic() > deadline:
            tail = ""
            if proc is not None and proc.log_path is not None:
                tail = f"; last lines of {proc.log_path}:\n{proc.tail(20).rstrip()}"
            raise DevStackError(
                f"{PREFIX}: PostgreSQL on port {port} did not become ready in {timeout_s:.0f} s ({last_error}){tail}"
            )
        await asyncio.sleep(0.2)


def cluster_settings(settings: Settings) -> Settings:
    """The settings of every process of ``polku dev --cluster``: its files in
    ``{data_dir}/cluster``, the PostgreSQL it starts, the first NATS node as the seed
    (clients learn the other nodes from it and fail over to them), three stream replicas,
    the proxy origin as the services' API base."""
    return settings.model_copy(
        update={
            "data_dir": (settings.data_dir / "cluster").resolve(),
            "database_url": postgres_url(settings.postgres_port),
            "nats_url": f"nats://127.0.0.1:{settings.nats_port}",
            "nats_stream_replicas": NATS_CLUSTER_SIZE,
            "api_base_url": settings.origin,
        }
    )


def cluster_env(settings: Settings) -> dict[str, str]:
    """``cluster_settings`` as the POLKU_* environment of the child processes."""
    return {
        "POLKU_DATA_DIR": str(settings.data_dir),
        "POLKU_DATABASE_URL": settings.database_url or "",
        "POLKU_NATS_URL": settings.nats_url,
        "POLKU_NATS_STREAM_REPLICAS": str(settings.nats_stream_replicas),
        "POLKU_API_BASE_URL": settings.internal_api,
        "POLKU_HTTP_HOST": settings.http_host,
        "POLKU_HTTP_PORT": str(settings.http_port),
        "POLKU_SERVICE_PORT_BASE": str(settings.service_port_base),
    }


def _died_message(proc: ManagedProcess, what: str) -> str:
    where = f"; last lines of {proc.log_path}:\n{proc.tail(20).rstrip()}" if proc.log_path else ""
    return f"{PREFIX}: {what} exited during start-up (exit code {proc.poll()}){where}"


async def _unless_died(aw: Awaitable[T], proc: ManagedProcess | None, limit_s: float) -> T:
    """Await ``aw`` for at most ``limit_s``, giving up early if ``proc`` exits meanwhile."""
    task = asyncio.ensure_future(aw)
    try:
        for _ in range(max(1, int(limit_s / 0.05))):
            done, _pending = await asyncio.wait({task}, timeout=0.05)
            if done:
                return task.result()
            if proc is not None and not proc.running():
                break
        raise TimeoutError
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


async def wait_temporal_ready(
    proc: ManagedProcess | None,
    address: str,
    *,
    namespace: str = "default",
    search_attributes: Iterable[str] = SEARCH_ATTRIBUTES,
    timeout_s: float = TEMPORAL_START_TIMEOUT_S,
) -> None:
    """Wait until the frontend at ``address`` answers and ``namespace`` has the search
    attributes. Raises DevStackError (with the log's last lines) if ``proc`` dies or on timeout."""
    from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
    from temporalio.client import Client

    host, port = _split_host_port(address, 7233)
    wanted = set(search_attributes)
    deadline = time.monotonic() + timeout_s
    last_error = "no answer"
    client: Client | None = None
    while True:
        if proc is not None and not proc.running():
            raise DevStackError(_died_message(proc, "the Temporal dev server"))
        try:
            if client is None and _port_open(host, port):
                client = await _unless_died(Client.connect(address, namespace=namespace), proc, 5.0)
            if client is not None:
                resp = await _unless_died(
                    client.operator_service.list_search_attributes(
                        ListSearchAttributesRequest(namespace=namespace),
                        timeout=timedelta(seconds=5),
                    ),
                    proc,
                    6.0,
                )
                missing = wanted - set(resp.custom_attributes)
                if not missing:
                    return
                last_error = f"search attributes not registered yet: {', '.join(sorted(missing))}"
        except Exception as exc:  # noqa: BLE001 - retried until the deadline
            last_error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if time.monotonic() > deadline:
            tail = ""
            if proc is not None and proc.log_path is not None:
                tail = f"; last lines of {proc.log_path}:\n{proc.tail(20).rstrip()}"
            raise DevStackError(
                f"{PREFIX}: the Temporal dev server at {address} did not become ready in {timeout_s:.0f} s "
                f"({last_error}){tail}"
            )
        await asyncio.sleep(0.1)


async def wait_nats_ready(
    proc: ManagedProcess | None,
    url: str,
    *,
    timeout_s: float = NATS_START_TIMEOUT_S,
    streams: bool = True,
) -> None:
    """Wait until NATS at ``url`` accepts connections, then (``streams``) ensure the
    JetStream streams. Raises DevStackError if ``proc`` dies or on timeout."""
    from shared.events.streams import ensure_streams

    host, port = _split_host_port(url, 4222)
    deadline = time.monotonic() + timeout_s
    last_error = "no answer"
    while True:
        if proc is not None and not proc.running():
            raise DevStackError(_died_message(proc, "nats-server"))
        try:
            if _port_open(host, port):
                if streams:
                    await _unless_died(ensure_streams(url), proc, 10.0)
                return
        except Exception as exc:  # noqa: BLE001 - retried until the deadline
            last_error = str(exc) or type(exc).__name__
        if time.monotonic() > deadline:
            tail = ""
            if proc is not None and proc.log_path is not None:
                tail = f"; last lines of {proc.log_path}:\n{proc.tail(20).rstrip()}"
            raise DevStackError(
                f"{PREFIX}: nats-server at {url} did not become ready in {timeout_s:.0f} s ({last_error}){tail}"
            )
        await asyncio.sleep(0.1)


# --------------------------------------------------------------------------- run_dev


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@dataclass
class _Quorum:
    """Processes of which some may die while ``minimum`` still run (a NATS cluster)."""

    what: str
    members: list[ManagedProcess]
    minimum: int
    reported: set[str] = field(default_factory=set)


@dataclass
class _Stack:
    servers: list[ManagedProcess] = field(default_factory=list)  # in start order
    children: list[ManagedProcess] = field(default_factory=list)
    quorums: list[_Quorum] = field(default_factory=list)

    def first_dead(self) -> ManagedProcess | None:
        for proc in [*self.servers, *self.children]:
            if proc.running():
                continue
            quorum = next((q for q in self.quorums if proc in q.members), None)
            if quorum is None:
                return proc
            alive = sum(1 for m in quorum.members if m.running())
            if alive < quorum.minimum:
                return proc
            if proc.name not in quorum.reported:
                quorum.reported.add(proc.name)
                _say(
                    f"{PREFIX}: {proc.name} exited (exit code {proc.poll()}); {alive} of {len(quorum.members)} "
                    f"{quorum.what} nodes run on, which is enough"
                )
        return None

    async def stop_all(self, grace_s: float, force: asyncio.Event) -> None:
        # Children together, then the servers in reverse start order (nats, then temporal).
        await asyncio.gather(*(p.stop_async(grace_s, force) for p in self.children))
        for proc in reversed(self.servers):
            await proc.stop_async(grace_s, force)


async def _start_all(
    settings: Settings,
    child_commands: Sequence[ChildCommand],
    after_servers_ready: Hook | None,
    after_children_ready: Hook | None,
    child_env: Mapping[str, str] | None,
    stack: _Stack,
    cluster: bool,
) -> None:
    data_dir = settings.data_dir.resolve()
    logs = data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)

    if cluster:
        await _start_cluster_servers(settings, stack, data_dir, logs)
    else:
        await _start_servers(settings, stack, data_dir, logs)

    if after_servers_ready is not None:
        await after_servers_ready()

    env = dict(child_env) if child_env is not None else dict(os.environ)
    for name, argv in child_commands:
        stack.children.append(start_process(name, argv, logs / f"{name}.log", env=env))

    if after_children_ready is not None:
        await after_children_ready()


def _start_temporal(settings: Settings, stack: _Stack, data_dir: Path, logs: Path) -> tuple[ManagedProcess, str]:
    temporal_host, temporal_port = _split_host_port(settings.temporal_address, 7233)
    temporal_ip = _bind_ip(temporal_host)
    temporal = start_temporal_dev_server(
        data_dir,
        temporal_port,
        settings.temporal_ui_port,
        logs / "temporal.log",
        ip=temporal_ip,
        namespaces=[settings.temporal_namespace],
        codec_endpoint=f"{settings.origin}/api/v1/codec",
    )
    stack.servers.append(temporal)
    return temporal, f"{temporal_ip}:{temporal_port}"


async def _start_cluster_servers(settings: Settings, stack: _Stack, data_dir: Path, logs: Path) -> None:
    """Temporal dev server, three clustered NATS nodes, PostgreSQL; then the streams with
    three replicas and the ``polku`` database."""
    temporal, address = _start_temporal(settings, stack, data_dir, logs)
    client_ports = [settings.nats_port + i for i in range(NATS_CLUSTER_SIZE)]
    cluster_ports = [settings.nats_cluster_port + i for i in range(NATS_CLUSTER_SIZE)]
    nodes = start_nats_cluster(data_dir, client_ports, cluster_ports, logs)
    stack.servers.extend(nodes)
    stack.quorums.append(_Quorum("NATS", nodes, NATS_CLUSTER_SIZE // 2 + 1))
    postgres = start_postgres(data_dir / "postgres", settings.postgres_port, logs / "postgres.log")
    stack.servers.append(postgres)

    await wait_temporal_ready(temporal, address, namespace=settings.temporal_namespace)
    ui = f"http://{address.rsplit(':', 1)[0]}:{settings.temporal_ui_port}"
    _say(f"{PREFIX}: Temporal ready at {address} (UI {ui})")
    urls = [f"nats://127.0.0.1:{p}" for p in client_ports]
    await wait_nats_cluster_ready(nodes, urls, num_replicas=NATS_CLUSTER_SIZE)
    _say(f"{PREFIX}: NATS cluster ready at {', '.join(urls)} (streams with {NATS_CLUSTER_SIZE} replicas)")
    url = await wait_postgres_ready(postgres, settings.postgres_port)
    _say(f"{PREFIX}: PostgreSQL ready at {url.split('@', 1)[1]}; logs in {_display(logs)}/")


async def _start_servers(settings: Settings, stack: _Stack, data_dir: Path, logs: Path) -> None:
    """Temporal dev server and one nats-server; then the streams."""
    temporal, address = _start_temporal(settings, stack, data_dir, logs)
    nats = start_nats_server(data_dir / "nats", settings.nats_port, logs / "nats.log")
    stack.servers.append(nats)

    await wait_temporal_ready(temporal, address, namespace=settings.temporal_namespace)
    ui = f"http://{address.rsplit(':', 1)[0]}:{settings.temporal_ui_port}"
    _say(f"{PREFIX}: Temporal ready at {address} (UI {ui})")

    nats_url = f"nats://127.0.0.1:{settings.nats_port}"
    _, nats_url_port = _split_host_port(settings.nats_url, 4222)
    if nats_url_port != settings.nats_port:
        _say(
            f"{PREFIX}: warning: POLKU_NATS_URL ({settings.nats_url}) does not use POLKU_NATS_PORT "
            f"({settings.nats_port}); the Polku processes will not find this NATS"
        )
    await wait_nats_ready(nats, nats_url)
    _say(f"{PREFIX}: NATS ready at {nats_url}; logs in {_display(logs)}/")


async def run_dev_async(
    settings: Settings,
    child_commands: Sequence[ChildCommand],
    after_servers_ready: Hook | None = None,
    after_children_ready: Hook | None = None,
    *,
    child_env: Mapping[str, str] | None = None,
    stop_timeout: float = 10.0,
    cluster: bool = False,
) -> int:
    """See the module docstring. Must run on the main thread (signal handlers)."""
    problem = check_ports(_cluster_ports(settings) if cluster else _dev_ports(settings))
    if problem is not None:
        _say(problem)
        return 2
    names = [name for name, _ in child_commands]
    reserved = {"temporal", "nats", "postgres", *(f"nats-{i}" for i in range(1, NATS_CLUSTER_SIZE + 1))}
    if len(set(names)) != len(names) or reserved & set(names):
        _say(f"{PREFIX}: child names must be unique and not one of {', '.join(sorted(reserved))}: {names}")
        return 2

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    force = asyncio.Event()
    stack = _Stack()

    def on_signal() -> None:
        if stop.is_set():
            force.set()  # second Ctrl-C: no more waiting
        stop.set()

    handled: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, on_signal)
            handled.append(sig)

    startup = asyncio.create_task(
        _start_all(
            settings,
            child_commands,
            after_servers_ready,
            after_children_ready,
            child_env,
            stack,
            cluster,
        )
    )
    rc = 0
    try:
        while True:
            if stop.is_set():
                _say(f"{PREFIX}: stopping")
                rc = 0
                break
            dead = stack.first_dead()
            if dead is not None and dead in stack.servers and not startup.done():
                # A server dying during start-up: its readiness wait reports it with the log's end.
                await asyncio.wait({startup}, timeout=1.0)
            if startup.done() and not startup.cancelled() and (exc := startup.exception()) is not None:
                if isinstance(exc, DevStackError):
                    _say(str(exc))
                else:
                    _say(f"{PREFIX}: start-up failed:")
                    traceback.print_exception(exc, file=sys.stderr)
                rc = 1
                break
            if dead is not None:
                where = f"; see {_display(dead.log_path)}" if dead.log_path else ""
                _say(f"{PREFIX}: {dead.name} exited unexpectedly (exit code {dead.poll()}){where}")
                if not startup.done() and dead.log_path is not None:
                    _say(f"{PREFIX}: last lines of {_display(dead.log_path)}:\n{dead.tail(20).rstrip()}")
                rc = 1
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.2)
    finally:
        if not startup.done():
            startup.cancel()
        with contextlib.suppress(BaseException):
            await startup  # also marks a failure as retrieved
        try:
            await asyncio.shield(stack.stop_all(stop_timeout, force))
        finally:
            for sig in handled:
                loop.remove_signal_handler(sig)
    if rc == 0:
        _say(f"{PREFIX}: stopped")
    return rc


def run_dev(
    settings: Settings,
    child_commands: Sequence[ChildCommand],
    after_servers_ready: Hook | None = None,
    after_children_ready: Hook | None = None,
    *,
    child_env: Mapping[str, str] | None = None,
    stop_timeout: float = 10.0,
    cluster: bool = False,
) -> int:
    """Run the dev stack until Ctrl-C/SIGTERM or a death; returns the exit code (see module doc)."""
    return asyncio.run(
        run_dev_async(
            settings,
            child_commands,
            after_servers_ready,
            after_children_ready,
            child_env=child_env,
            stop_timeout=stop_timeout,
            cluster=cluster,
        )
    )
