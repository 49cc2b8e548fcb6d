"""Suite-wide fixtures: real servers (Temporal dev server, nats-server; testcontainers
where a Docker engine exists) and the whole Polku stack running as processes."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from shared.contracts.journey import Role
from shared.settings import Settings
from tests import servers

T = TypeVar("T")
PASSWORD = "test-password-123"


def wait_for(predicate: Callable[[], T | None], timeout: float = 60.0, interval: float = 0.3) -> T:
    """The first truthy value of ``predicate``, asked every ``interval`` seconds: for what
    the stack does in the background (events, projections); AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even inside a running event loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@dataclass
class Servers:
    temporal_address: str
    nats_url: str


@pytest.fixture(scope="session")
def real_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    base = tmp_path_factory.mktemp("servers")
    if servers.use_containers():
        with servers.container_temporal() as temporal, servers.container_nats() as nats:
            yield Servers(temporal.address, nats.url)
    else:
        with servers.local_temporal(base / "temporal") as temporal, servers.local_nats(base / "nats") as nats:
            yield Servers(temporal.address, nats.url)


@dataclass
class Org:
    id: uuid.UUID
    region: str
    users: dict[str, uuid.UUID] = field(default_factory=dict)


@dataclass
class Live:
    """The whole stack behind one origin, with helpers to set up organisations and users."""

    base_url: str
    settings: Settings
    env: dict[str, str]
    logs: Path
    _tokens: dict[str, str] = field(default_factory=dict)

    def rows(self, database: str, sql: str, *args: Any) -> list[dict[str, Any]]:
        """Rows of raw SQL (``?`` placeholders) on one of the stack's databases, on whichever
        backend it runs (a SQLite file, or the database's schema on PostgreSQL); a statement
        that changes rows is committed and answers no rows."""
        from shared.db import create_engine

        async def go() -> list[dict[str, Any]]:
            engine = create_engine(self.settings, database, immediate=False)
            statement = sql
            if engine.dialect.name != "sqlite":
                parts = sql.split("?")
                statement = parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], start=1))
            try:
                async with engine.begin() as conn:  # committed: a test may change rows too
                    result = await conn.exec_driver_sql(statement, tuple(args))
                    return [dict(row._mapping) for row in result] if result.returns_rows else []
            finally:
                await engine.dispose()

        return run_sync(go())

    def database_bytes(self, database: str) -> bytes:
        """Everything stored in one of the stack's databases as bytes: the SQLite file with
        its write-ahead log, or a data dump of its PostgreSQL schema."""
        url = self.settings.database_url
        if url is None:
            path = self.settings.sqlite_path(database)
            wal = path.with_name(path.name + "-wal")
            return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
        dsn = url.replace("postgresql+asyncpg://", "postgresql://")
        return subprocess.run(
            [str(servers.PG_BIN / "pg_dump"), "--data-only", "--schema", database, "--dbname", dsn],
            check=True,
            capture_output=True,
        ).stdout

    def http(self, username: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token(username)}"} if username else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30)

    def token(self, username: str) -> str:
        if username not in self._tokens:
            r = httpx.post(
                f"{self.base_url}/api/v1/auth/token", json={"username": username, "password": PASSWORD}, timeout=30
            )
            r.raise_for_status()
            self._tokens[username] = r.json()["access_token"]
        return self._tokens[username]

    def add_org(self, region: str = "kymenlaakso", roles: tuple[Role, ...] = tuple(Role)) -> Org:
        """A fresh organisation with one user per role, named ``{role}-{short id}``."""
        from shared.db import Database
        from shared.identity import Identity

        async def go() -> Org:
            db = Database(self.settings, "platform", immediate=True)
            try:
                ident = Identity(db)
                org = Org(await ident.add_organisation(f"Org {uuid.uuid4().hex[:6]}", region), region)
                for role in roles:
                    name = f"{role.value}-{org.id.hex[:8]}"
                    org.users[role.value] = await ident.add_user(org.id, name, PASSWORD, role)
                return org
            finally:
                await db.dispose()

        return run_sync(go())

    def browser_session(self, org: Org, role: Role) -> httpx.Client:
        """An httpx client logged in through the web UI's login form (cookie session)."""
        client = httpx.Client(base_url=self.base_url, timeout=30, follow_redirects=False)
        page = client.get("/login")
        match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert match, "login form has no csrf token"
        r = client.post(
            "/login",
            data={"username": self.username(org, role), "password": PASSWORD, "csrf_token": match.group(1)},
        )
        assert r.status_code == 303, r.text
        return client

    def username(self, org: Org, role: Role) -> str:
        return f"{role.value}-{org.id.hex[:8]}"

    def register_client(self, org: Org, first: str = "Aino", last: str = "Korhonen", **extra: Any) -> dict[str, Any]:
        """A self-referral by the organisation's coach; ``extra`` adds body fields."""
        with self.http(self.username(org, Role.COACH)) as http:
            r = http.post(
                "/api/v1/clients",
                json={
                    "coach_id": str(org.users[Role.COACH.value]),
                    "first_name": first,
                    "last_name": last,
                    "consent": {"processing": True},  # the journey starts only with it
                    **extra,
                },
            )
            assert r.status_code in (200, 201), r.text
            body: dict[str, Any] = r.json()
            return body


def _wait_ready(url: str, procs: list[subprocess.Popen[bytes]], logs: Path, timeout: float = 150) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"{p.args} exited {p.returncode}; logs in {logs}")
        try:
            r = httpx.get(f"{url}/readyz", timeout=5)
            if r.status_code == 200:
                return
            last = r.text
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.3)
    raise RuntimeError(f"stack not ready in {timeout}s: {last}; logs in {logs}")


def live_database() -> str:
    """The database the ``live`` stack runs on: ``POLKU_TEST_DATABASE=postgresql`` runs the
    whole stack (and so every test on ``live``) on PostgreSQL; SQLite otherwise."""
    chosen = os.environ.get("POLKU_TEST_DATABASE", "sqlite")
    if chosen not in ("sqlite", "postgresql"):
        raise pytest.UsageError(f"POLKU_TEST_DATABASE must be sqlite or postgresql, not {chosen!r}")
    return chosen


@pytest.fixture(scope="session")
def live(
    real_servers: Servers, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Live]:
    data_dir = tmp_path_factory.mktemp("polku")
    database_url = None
    if live_database() == "postgresql":
        database_url = fresh_postgres_database(request.getfixturevalue("postgres_url"))
    port = servers.free_port()
    env = {
        **os.environ,
        "POLKU_DATA_DIR": str(data_dir),
        "POLKU_HTTP_PORT": str(port),
        "POLKU_TEMPORAL_ADDRESS": real_servers.temporal_address,
        "POLKU_NATS_URL": real_servers.nats_url,
        "POLKU_COOKIE_SECURE": "false",
        "POLKU_TEMPORAL_TASK_QUEUE": f"polku-test-{uuid.uuid4().hex[:8]}",
        "POLKU_LOG_LEVEL": "WARNING",
    }
    if database_url:
        env["POLKU_DATABASE_URL"] = database_url
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        http_port=port,
        temporal_address=real_servers.temporal_address,
        nats_url=real_servers.nats_url,
        temporal_task_queue=env["POLKU_TEMPORAL_TASK_QUEUE"],
    )
    subprocess.run([sys.executable, "-m", "polku", "migrate"], env=env, check=True, capture_output=True)
    logs = data_dir / "logs"
    logs.mkdir()
    procs: list[subprocess.Popen[bytes]] = []
    for name, args in (("web", ["serve", "all"]), ("worker", ["worker"])):
        out = (logs / f"{name}.log").open("wb")
        procs.append(subprocess.Popen([sys.executable, "-m", "polku", *args], env=env, stdout=out, stderr=out))
    try:
        base_url = f"http://127.0.0.1:{port}"
        _wait_ready(base_url, procs, logs)
        yield Live(base_url=base_url, settings=settings, env=env, logs=logs)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if servers.use_containers():
        with servers.container_postgres() as url:
            yield url
    else:
        with servers.local_postgres(tmp_path_factory.mktemp("pg")) as url:
            yield url


def fresh_postgres_database(base: str) -> str:
    """A new, empty database on the server of ``base``; its URL."""
    name = f"t_{uuid.uuid4().hex[:12]}"

    async def create() -> None:
        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(base, isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        await engine.dispose()

    run_sync(create())
    return base.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for a fresh database of each backend (a fresh schema set on PostgreSQL)."""
    if request.param == "sqlite":
        return Settings(data_dir=tmp_path)
    # One database per test keeps tests independent: create it through the admin connection.
    return Settings(data_dir=tmp_path, database_url=fresh_postgres_database(request.getfixturevalue("postgres_url")))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # `-m live_stack` selects the tests that run on the whole stack (the `live` fixture),
    # e.g. to run them again on PostgreSQL with POLKU_TEST_DATABASE=postgresql.
    for item in items:
        if "live" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.live_stack)
