"""The embedded dev stack (``polku.devstack``) with real processes: port checks, start-up,
supervision, shutdown leaving nothing behind, and data kept across restarts."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from polku.devstack import (
    DevStackError,
    find_binary,
    free_port,
    port_in_use,
    run_dev,
    start_process,
    start_temporal_dev_server,
    wait_temporal_ready,
)
from shared.contracts.journey import SEARCH_ATTRIBUTES
from shared.events.streams import STREAMS
from shared.settings import Settings

START_TIMEOUT_S = 45.0
STOP_TIMEOUT_S = 20.0
SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]

# Runs run_dev in its own process, with Settings from the POLKU_* environment; writes
# data_dir/ready once the children run.
DEV_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from polku.devstack import run_dev
    from shared.settings import Settings

    settings = Settings()
    children = [(name, argv) for name, argv in json.loads(sys.argv[1])]

    async def servers_ready() -> None:
        (settings.data_dir / "servers-ready").write_text("1")

    async def children_ready() -> None:
        (settings.data_dir / "ready").write_text("1")

    sys.exit(run_dev(settings, children, servers_ready, children_ready, stop_timeout=5))
    """
)


# --------------------------------------------------------------------------- /proc helpers


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    pgid: int
    state: str
    cmdline: str


def _proc_table() -> dict[int, Proc]:
    table: dict[int, Proc] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            raw = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        table[int(entry)] = Proc(
            pid=int(entry),
            ppid=int(fields[1]),
            pgid=int(fields[2]),
            state=fields[0],
            cmdline=raw.replace(b"\0", b" ").decode(errors="replace").strip(),
        )
    return table


def _started_since(before: set[int]) -> list[Proc]:
    """What this process started since ``before`` was taken, with their descendants.

    Not every new descendant: servers started earlier by other fixtures have children
    that come and go meanwhile (PostgreSQL forks a backend per connection)."""
    new_children = [p for p in _proc_table().values() if p.ppid == os.getpid() and p.pid not in before]
    return [q for child in new_children for q in (child, *_descendants(child.pid))]


def _descendants(root: int) -> list[Proc]:
    table = _proc_table()
    found: list[Proc] = []
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for proc in table.values():
            if proc.ppid == parent:
                found.append(proc)
                frontier.append(proc.pid)
    return found


def _alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def _group_alive(pgid: int) -> bool:
    return any(p.pgid == pgid and p.state != "Z" for p in _proc_table().values())


def _mentioning(text: str) -> list[Proc]:
    return [p for p in _proc_table().values() if text in p.cmdline and p.state != "Z"]


def _wait_until(predicate: object, timeout: float, what: str) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


# --------------------------------------------------------------------------- the stack


@dataclass
class Ports:
    http: int
    temporal: int
    ui: int
    nats: int

    @classmethod
    def free(cls) -> Ports:
        ports: set[int] = set()
        while len(ports) < 4:
            ports.add(free_port())
        http, temporal, ui, nats = sorted(ports)
        return cls(http, temporal, ui, nats)

    def env(self, data_dir: Path) -> dict[str, str]:
        return {
            **os.environ,
            "POLKU_DATA_DIR": str(data_dir),
            "POLKU_HTTP_PORT": str(self.http),
            "POLKU_TEMPORAL_ADDRESS": f"127.0.0.1:{self.temporal}",
            "POLKU_TEMPORAL_UI_PORT": str(self.ui),
            "POLKU_NATS_PORT": str(self.nats),
            "POLKU_NATS_URL": f"nats://127.0.0.1:{self.nats}",
        }

    def all(self) -> list[int]:
        return [self.http, self.temporal, self.ui, self.nats]


@dataclass
class DevRun:
    popen: subprocess.Popen[bytes]
    data_dir: Path
    ports: Ports
    stderr_path: Path

    @property
    def temporal_address(self) -> str:
        return f"127.0.0.1:{self.ports.temporal}"

    @property
    def nats_url(self) -> str:
        return f"nats://127.0.0.1:{self.ports.nats}"

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def wait_ready(self, marker: str = "ready") -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (self.data_dir / marker).exists():
            if self.popen.poll() is not None:
                pytest.fail(f"polku dev exited {self.popen.returncode}:\n{self.stderr()}")
            if time.monotonic() > deadline:
                pytest.fail(f"polku dev not ready in {START_TIMEOUT_S} s:\n{self.stderr()}")
            time.sleep(0.1)

    def wait_exit(self, timeout: float = STOP_TIMEOUT_S) -> int:
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"polku dev did not exit in {timeout} s:\n{self.stderr()}")


def _start_dev(tmp_path: Path, data_dir: Path, ports: Ports, children: list[tuple[str, list[str]]]) -> DevRun:
    import json

    for marker in ("ready", "servers-ready"):
        (data_dir / marker).unlink(missing_ok=True)
    stderr_path = tmp_path / f"dev-{time.monotonic_ns()}.err"
    with stderr_path.open("wb") as err:
        popen = subprocess.Popen(
            [sys.executable, "-c", DEV_SCRIPT, json.dumps(children)],
            env=ports.env(data_dir),
            stdout=err,
            stderr=err,
            start_new_session=True,  # like a terminal's job: not in pytest's group
        )
    return DevRun(popen, data_dir, ports, stderr_path)


@pytest.fixture
def cleanup() -> Iterator[list[DevRun]]:
    """Kill whatever a failing test left running."""
    runs: list[DevRun] = []
    yield runs
    for run in runs:
        leftovers = _descendants(run.popen.pid)
        if run.popen.poll() is None:
            run.popen.kill()
            run.popen.wait(5)
        for proc in leftovers + _mentioning(str(run.data_dir)):
            with contextlib.suppress(OSError):
                os.killpg(proc.pgid, signal.SIGKILL)


def _stack_processes(run: DevRun) -> list[Proc]:
    procs = _descendants(run.popen.pid)
    cmdlines = [p.cmdline for p in procs]
    assert len(procs) == 3, cmdlines
    assert any("server start-dev" in c for c in cmdlines), cmdlines
    assert any("nats-server" in c for c in cmdlines), cmdlines
    assert any("time.sleep(60)" in c for c in cmdlines), cmdlines
    for proc in procs:  # each in its own process group, none in polku dev's
        assert proc.pgid == proc.pid, proc
    return procs


def _assert_all_gone(run: DevRun, procs: list[Proc]) -> None:
    def gone() -> bool:
        return not any(_alive(p.pid) or _group_alive(p.pgid) for p in procs)

    _wait_until(gone, 10, "the stack's processes to end")
    assert _mentioning(str(run.data_dir)) == []
    for port in run.ports.all():
        assert not port_in_use("127.0.0.1", port), port


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("which", ["http", "temporal", "ui", "nats"])
def test_busy_port_exits_2_and_starts_nothing(which: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ports = Ports.free()
    setting = {
        "http": "POLKU_HTTP_PORT",
        "temporal": "POLKU_TEMPORAL_ADDRESS",
        "ui": "POLKU_TEMPORAL_UI_PORT",
        "nats": "POLKU_NATS_PORT",
    }[which]
    busy = getattr(ports, which)
    data_dir = tmp_path / "data"
    settings = Settings(
        data_dir=data_dir,
        http_port=ports.http,
        temporal_address=f"127.0.0.1:{ports.temporal}",
        temporal_ui_port=ports.ui,
        nats_port=ports.nats,
        nats_url=f"nats://127.0.0.1:{ports.nats}",
    )
    before = {p.pid for p in _descendants(os.getpid())}
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", busy))
        holder.listen()
        rc = run_dev(settings, [("sleeper", SLEEPER)])
        started = _started_since(before)
    err = capsys.readouterr().err
    assert rc == 2
    assert err.splitlines() == [f"polku dev: port {busy} is already in use; set {setting} to use another port"]
    assert started == [] and _mentioning(str(data_dir)) == []
    assert not data_dir.exists()


def test_same_port_twice_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    settings = Settings(data_dir=tmp_path / "data", http_port=port, nats_port=port)
    assert run_dev(settings, []) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert f"port {port}" in err[0]
    assert "POLKU_HTTP_PORT" in err[0]
    assert "POLKU_NATS_PORT" in err[0]


def test_stack_starts_stops_cleanly_and_keeps_data(tmp_path: Path, cleanup: list[DevRun]) -> None:
    from nats import connect as nats_connect
    from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus
    from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

    data_dir = tmp_path / "data"
    ports = Ports.free()
    started = time.monotonic()

    # ---- first run: servers up, search attributes and streams there; leave marks
    run = _start_dev(tmp_path, data_dir, ports, [("sleeper", SLEEPER)])
    cleanup.append(run)
    run.wait_ready()
    procs = _stack_processes(run)

    listed = subprocess.run(
        [find_binary("temporal"), "operator", "search-attribute", "list", "--address", run.temporal_address],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    for name, kind in SEARCH_ATTRIBUTES.items():
        assert any(line.split()[:2] == [name, kind] for line in listed.splitlines()), listed

    org = SearchAttributeKey.for_keyword("OrganisationId")

    async def leave_marks() -> None:
        nc = await nats_connect(run.nats_url)
        try:
            js = nc.jetstream()
            for spec in STREAMS:
                info = await js.stream_info(spec.name)
                assert list(info.config.subjects or []) == list(spec.subjects)
            ack = await js.publish("polku.org-dev.journey.marker", b"kept")
            assert ack.stream == "POLKU_JOURNEY"
        finally:
            await nc.close()
        client = await Client.connect(run.temporal_address)
        # No worker serves this type: the execution just stays Running.
        await client.start_workflow(
            "NoSuchWorkflow",
            id="devstack-marker",
            task_queue="nobody-listens",
            search_attributes=TypedSearchAttributes([SearchAttributePair(org, "org-dev")]),
        )

    asyncio.run(leave_marks())
    assert (data_dir / "logs" / "temporal.log").exists()
    assert (data_dir / "logs" / "nats.log").exists()
    assert (data_dir / "logs" / "sleeper.log").exists()

    run.popen.send_signal(signal.SIGINT)
    assert run.wait_exit() == 0, run.stderr()
    assert "polku dev: stopped" in run.stderr()
    _assert_all_gone(run, procs)

    # ---- second run on the same data_dir: both marks are still there
    run2 = _start_dev(tmp_path, data_dir, ports, [("sleeper", SLEEPER)])
    cleanup.append(run2)
    run2.wait_ready()
    procs2 = _stack_processes(run2)

    async def find_marks() -> None:
        client = await Client.connect(run2.temporal_address)
        found: list[WorkflowExecution] = []
        deadline = time.monotonic() + 10
        while not found and time.monotonic() < deadline:
            found = [wf async for wf in client.list_workflows('OrganisationId = "org-dev"')]
            if not found:
                await asyncio.sleep(0.2)
        assert [wf.id for wf in found] == ["devstack-marker"]
        assert found[0].status == WorkflowExecutionStatus.RUNNING
        nc = await nats_connect(run2.nats_url)
        try:
            msg = await nc.jetstream().get_last_msg("POLKU_JOURNEY", "polku.org-dev.journey.marker")
            assert msg.data == b"kept"
        finally:
            await nc.close()

    asyncio.run(find_marks())

    run2.popen.send_signal(signal.SIGTERM)
    assert run2.wait_exit() == 0, run2.stderr()
    _assert_all_gone(run2, procs2)
    assert (data_dir / "logs" / "temporal.log.1").exists()  # the first run's log kept
    assert time.monotonic() - started < 40


def test_child_death_stops_everything(tmp_path: Path, cleanup: list[DevRun]) -> None:
    data_dir = tmp_path / "data"
    dying = [sys.executable, "-c", "import sys, time; time.sleep(1); sys.exit(3)"]
    run = _start_dev(tmp_path, data_dir, Ports.free(), [("dying", dying)])
    cleanup.append(run)
    rc = run.wait_exit(START_TIMEOUT_S)
    assert rc == 1, run.stderr()
    lines = [line for line in run.stderr().splitlines() if "dying" in line]
    assert len(lines) == 1, run.stderr()
    assert "exited unexpectedly (exit code 3)" in lines[0]
    assert str(Path("logs") / "dying.log") in lines[0]
    _wait_until(lambda: not _mentioning(str(data_dir)), 10, "temporal and nats to end")
    for port in run.ports.all():
        assert not port_in_use("127.0.0.1", port), port


def test_sigkill_of_polku_dev_takes_its_processes_along(tmp_path: Path, cleanup: list[DevRun]) -> None:
    run = _start_dev(tmp_path, tmp_path / "data", Ports.free(), [("sleeper", SLEEPER)])
    cleanup.append(run)
    run.wait_ready()
    procs = _stack_processes(run)
    run.popen.kill()
    run.popen.wait(5)
    _assert_all_gone(run, procs)


def test_managed_process_stop_kills_the_whole_group(tmp_path: Path) -> None:
    # The shell leaves a grandchild behind in its group; stop() must take it too.
    proc = start_process(
        "shell",
        ["sh", "-c", "sleep 60 & trap '' TERM; sleep 60"],
        tmp_path / "shell.log",
    )
    _wait_until(lambda: len(_descendants(proc.pid)) >= 2, 5, "the shell's children")
    members = [proc.pid, *(p.pid for p in _descendants(proc.pid))]
    proc.stop(timeout=1)
    _wait_until(lambda: not any(_alive(pid) for pid in members), 5, "the group to end")
    assert not _group_alive(proc.pgid)


def test_temporal_start_failure_shows_the_log(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        proc = start_temporal_dev_server(None, port, free_port(), tmp_path / "temporal.log")
        try:
            with pytest.raises(DevStackError) as excinfo:
                asyncio.run(wait_temporal_ready(proc, f"127.0.0.1:{port}", timeout_s=30))
        finally:
            proc.stop()
    message = str(excinfo.value)
    assert "exited during start-up" in message
    assert str(tmp_path / "temporal.log") in message


def test_server_dying_at_start_up_is_reported_with_its_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "temporal.db").write_text("not a database")
    ports = Ports.free()
    settings = Settings(
        data_dir=data_dir,
        http_port=ports.http,
        temporal_address=f"127.0.0.1:{ports.temporal}",
        temporal_ui_port=ports.ui,
        nats_port=ports.nats,
        nats_url=f"nats://127.0.0.1:{ports.nats}",
    )
    before = {p.pid for p in _descendants(os.getpid())}
    started = time.monotonic()
    assert run_dev(settings, [("sleeper", SLEEPER)]) == 1
    assert time.monotonic() - started < 20
    err = capsys.readouterr().err
    assert "the Temporal dev server exited during start-up" in err
    assert str(data_dir / "logs" / "temporal.log") in err
    assert "file is not a database" in err  # the end of the server's log
    assert not (data_dir / "logs" / "sleeper.log").exists()  # children never started
    _wait_until(lambda: _started_since(before) == [], 10, "nats-server to end")
    assert _mentioning(str(data_dir)) == []


def test_local_server_helpers(tmp_path: Path) -> None:
    """tests/servers.py's local servers: they answer, and leave nothing behind."""
    from nats import connect as nats_connect
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine
    from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
    from temporalio.client import Client

    from tests.servers import local_nats, local_postgres, local_temporal

    before = {p.pid for p in _descendants(os.getpid())}

    async def check(temporal_address: str, nats_url: str, pg_url: str) -> None:
        client = await Client.connect(temporal_address)
        attrs = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace="default"))
        assert set(SEARCH_ATTRIBUTES) <= set(attrs.custom_attributes)
        nc = await nats_connect(nats_url)
        try:
            for spec in STREAMS:
                assert (await nc.jetstream().stream_info(spec.name)).config.name == spec.name
        finally:
            await nc.close()
        engine = create_async_engine(pg_url)
        try:
            async with engine.begin() as conn:
                assert (await conn.execute(text("select current_user"))).scalar() == "polku"
                assert (await conn.execute(text("select current_database()"))).scalar() == "polku"
                await conn.execute(text("create schema intake"))  # the owner may create schemas
        finally:
            await engine.dispose()

    with (
        local_temporal(tmp_path / "t") as temporal,
        local_nats(tmp_path / "n") as nats,
        local_postgres(tmp_path / "p") as pg_url,
    ):
        assert temporal.address.startswith("127.0.0.1:")
        assert nats.url.startswith("nats://127.0.0.1:")
        assert pg_url.startswith("postgresql+asyncpg://polku:polku@127.0.0.1:")
        asyncio.run(check(temporal.address, nats.url, pg_url))
    _wait_until(lambda: _started_since(before) == [], 10, "the servers to end")
    assert (tmp_path / "p" / "postgres.log").exists()
