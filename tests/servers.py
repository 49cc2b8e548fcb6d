"""Real servers for the test suite: local binaries, or testcontainers where Docker runs.

Context managers (use them from sync fixtures; they start processes from the calling
thread, which should be the main thread, see ``polku.devstack``):

- ``local_temporal(tmp_dir)`` / ``container_temporal()`` -> ``TemporalServer``
  (``.address`` "127.0.0.1:PORT", ``.ui_url``, ``.namespace``), the 4 search attributes
  of ``shared.contracts.journey.SEARCH_ATTRIBUTES`` registered.
- ``local_nats(tmp_dir)`` / ``container_nats()`` -> ``NatsServer`` (``.url``), JetStream on,
  the Polku streams ensured.
- ``local_postgres(tmp_dir)`` / ``container_postgres()`` -> ``str``
  "postgresql+asyncpg://polku:polku@HOST:PORT/polku" (role and database ``polku``).
- ``temporal_server(tmp_dir)``, ``nats_server(tmp_dir)``, ``postgres_server(tmp_dir)``
  pick one of the two by ``use_containers()``.

``POLKU_TEST_SERVERS=containers`` forces containers, ``=local`` forces local binaries;
unset: containers when ``docker_available()``.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from polku.devstack import (
    DevStackError,
    ManagedProcess,
    free_port,
    start_nats_server,
    start_process,
    start_temporal_dev_server,
    wait_nats_ready,
    wait_temporal_ready,
)
from shared.contracts.journey import SEARCH_ATTRIBUTES

T = TypeVar("T")

TEMPORAL_IMAGE = "temporalio/temporal:latest"
NATS_IMAGE = "nats:2.11"
POSTGRES_IMAGE = "postgres:15"
PG_BIN = Path(os.environ.get("POLKU_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_USER = "postgres"  # the OS user PostgreSQL runs as when the tests run as root
PORT_ATTEMPTS = 3  # free_port() can race with another process taking the port


@dataclass(frozen=True)
class TemporalServer:
    address: str
    ui_url: str
    namespace: str = "default"


@dataclass(frozen=True)
class NatsServer:
    url: str


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from sync code, even if this thread runs a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coro))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            error.append(exc)

    thread = threading.Thread(target=target, name="servers-wait")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


# --------------------------------------------------------------------------- local


@contextmanager
def local_temporal(tmp_dir: Path) -> Iterator[TemporalServer]:
    """An in-memory Temporal dev server on free ports; log in ``tmp_dir/temporal.log``."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    log = tmp_dir / "temporal.log"
    for attempt in range(PORT_ATTEMPTS):
        port, ui_port = free_port(), free_port()
        proc = start_temporal_dev_server(None, port, ui_port, log)
        address = f"127.0.0.1:{port}"
        try:
            _run(wait_temporal_ready(proc, address, timeout_s=60))
        except DevStackError:
            proc.stop()
            if attempt + 1 == PORT_ATTEMPTS:
                raise
            continue
        except BaseException:
            proc.stop()
            raise
        break
    try:
        yield TemporalServer(address=address, ui_url=f"http://127.0.0.1:{ui_port}")
    finally:
        proc.stop()


@contextmanager
def local_nats(tmp_dir: Path) -> Iterator[NatsServer]:
    """nats-server -js on a free port, store in ``tmp_dir/nats``, streams ensured."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    log = tmp_dir / "nats.log"
    for attempt in range(PORT_ATTEMPTS):
        port = free_port()
        proc = start_nats_server(tmp_dir / "nats", port, log)
        url = f"nats://127.0.0.1:{port}"
        try:
            _run(wait_nats_ready(proc, url, timeout_s=30))
        except DevStackError:
            proc.stop()
            if attempt + 1 == PORT_ATTEMPTS:
                raise
            continue
        except BaseException:
            proc.stop()
            raise
        break
    try:
        yield NatsServer(url=url)
    finally:
        proc.stop()


def _pg_run(argv: list[str], *, user: str | None, cwd: Path) -> None:
    result = subprocess.run(argv, user=user, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")


def _pg_bootstrap(port: int, proc: ManagedProcess, cwd: Path, timeout: float) -> None:
    """Create role and database ``polku`` once the server accepts connections."""
    psql = [
        str(PG_BIN / "psql"),
        "-X",
        "-q",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-U",
        "postgres",
        "-d",
        "postgres",
        "-v",
        "ON_ERROR_STOP=1",
    ]
    deadline = time.monotonic() + timeout
    while True:
        if not proc.running():
            raise DevStackError(
                f"PostgreSQL exited during start-up (exit code {proc.poll()}); "
                f"last lines of {proc.log_path}:\n{proc.tail(20)}"
            )
        ready = subprocess.run(
            [str(PG_BIN / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)],
            check=False,
            cwd=cwd,
        )
        if ready.returncode == 0:
            break
        if time.monotonic() > deadline:
            raise DevStackError(f"PostgreSQL did not become ready in {timeout:.0f} s")
        time.sleep(0.1)
    _pg_run(
        [
            *psql,
            "-c",
            "CREATE ROLE polku LOGIN CREATEDB PASSWORD 'polku'",
            "-c",
            "CREATE DATABASE polku OWNER polku",
        ],
        user=None,
        cwd=cwd,
    )


@contextmanager
def local_postgres(tmp_dir: Path) -> Iterator[str]:
    """PostgreSQL 15 from ``PG_BIN`` on a free 127.0.0.1 port (trust auth); yields
    "postgresql+asyncpg://polku:polku@127.0.0.1:PORT/polku".

    As root the server runs as the ``postgres`` OS user, with its data in a fresh
    directory under the system temp dir owned by that user (pytest's tmp dirs are not
    reachable for it). Its log is copied to ``tmp_dir/postgres.log`` at the end.
    """
    if not (PG_BIN / "postgres").exists():
        raise RuntimeError(f"PostgreSQL binaries not found in {PG_BIN} (set POLKU_PG_BIN)")
    tmp_dir.mkdir(parents=True, exist_ok=True)
    user = PG_USER if os.geteuid() == 0 else None
    base = Path(tempfile.mkdtemp(prefix="polku-pg-"))
    proc: ManagedProcess | None = None
    try:
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(base, entry.pw_uid, entry.pw_gid)
        data = base / "data"
        _pg_run(
            [
                str(PG_BIN / "initdb"),
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
            cwd=base,
        )
        for attempt in range(PORT_ATTEMPTS):
            port = free_port()
            proc = start_process(
                "postgres",
                [
                    str(PG_BIN / "postgres"),
                    "-D",
                    str(data),
                    "-p",
                    str(port),
                    "-k",
                    str(base),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=200",
                ],
                base / "postgres.log",
                cwd=base,
                user=user,
                stop_signal=signal.SIGINT,  #: fast shutdown (what `pg_ctl stop -m fast` sends)
            )
            try:
                _pg_bootstrap(port, proc, base, timeout=60)
            except DevStackError:
                proc.stop()
                if attempt + 1 == PORT_ATTEMPTS:
                    raise
                continue
            break
        yield f"postgresql+asyncpg://polku:polku@127.0.0.1:{port}/polku"
    finally:
        if proc is not None:
            proc.stop(timeout=15)
        log = base / "postgres.log"
        if log.exists():
            shutil.copyfile(log, tmp_dir / "postgres.log")
        shutil.rmtree(base, ignore_errors=True)


# --------------------------------------------------------------------------- containers


@lru_cache(maxsize=1)
def docker_available() -> bool:
    """True when a Docker engine answers a ping (False at once when there is none)."""
    try:
        from testcontainers.core.docker_client import DockerClient

        client = DockerClient(timeout=3)
        try:
            return bool(client.client.ping())
        finally:
            client.client.close()
    except Exception:  # noqa: BLE001 - any failure means "no usable engine"
        return False


def use_containers() -> bool:
    mode = os.environ.get("POLKU_TEST_SERVERS")
    return mode == "containers" or (mode != "local" and docker_available())


@contextmanager
def container_temporal() -> Iterator[TemporalServer]:
    """``temporalio/temporal`` running ``server start-dev`` with the search attributes."""
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import PortWaitStrategy

    command = ["server", "start-dev", "--ip", "0.0.0.0"]
    for key, kind in SEARCH_ATTRIBUTES.items():
        command += ["--search-attribute", f"{key}={kind}"]
    command += [
        "--dynamic-config-value",
        "frontend.enableServerVersionCheck=false",
        "--ui-disable-news-fetch",
    ]
    container = (
        DockerContainer(TEMPORAL_IMAGE)
        .with_command(command)
        .with_exposed_ports(7233, 8233)
        .waiting_for(PortWaitStrategy(7233).with_startup_timeout(120))
    )
    with container:
        host = container.get_container_host_ip()
        address = f"{host}:{container.get_exposed_port(7233)}"
        _run(wait_temporal_ready(None, address, timeout_s=120))
        yield TemporalServer(address=address, ui_url=f"http://{host}:{container.get_exposed_port(8233)}")


@contextmanager
def container_nats() -> Iterator[NatsServer]:
    """``nats:2.11`` with ``-js``, streams ensured."""
    try:
        from testcontainers.community.nats import NatsContainer
    except ImportError:  # testcontainers < 4.14
        from testcontainers.nats import NatsContainer

    with NatsContainer(NATS_IMAGE, jetstream=True) as container:
        url = container.nats_uri()
        _run(wait_nats_ready(None, url, timeout_s=60))
        yield NatsServer(url=url)


@contextmanager
def container_postgres() -> Iterator[str]:
    """``postgres:15`` with role and database ``polku``; yields the asyncpg URL."""
    try:
        from testcontainers.community.postgres import PostgresContainer
    except ImportError:  # testcontainers < 4.14
        from testcontainers.postgres import PostgresContainer

    with PostgresContainer(
        POSTGRES_IMAGE, username="polku", password="polku", dbname="polku", driver="asyncpg"
    ) as container:
        host = container.get_container_host_ip()
        port = container.get_exposed_port(5432)
        yield f"postgresql+asyncpg://polku:polku@{host}:{port}/polku"


# --------------------------------------------------------------------------- selection


@contextmanager
def temporal_server(tmp_dir: Path) -> Iterator[TemporalServer]:
    if use_containers():
        with container_temporal() as server:
            yield server
    else:
        with local_temporal(tmp_dir) as server:
            yield server


@contextmanager
def nats_server(tmp_dir: Path) -> Iterator[NatsServer]:
    if use_containers():
        with container_nats() as server:
            yield server
    else:
        with local_nats(tmp_dir) as server:
            yield server


@contextmanager
def postgres_server(tmp_dir: Path) -> Iterator[str]:
    if use_containers():
        with container_postgres() as url:
            yield url
    else:
        with local_postgres(tmp_dir) as url:
            yield url
