"""`polku dev --cluster`: the production topology as local processes. Every service healthy
in its own process, the demo data registered through the proxy origin and projected by
reporting, the streams on three replicas; one NATS node killed and the system still
registering clients; Ctrl-C and nothing left behind."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from polku.devstack import PG_BIN, port_in_use
from shared.settings import SERVICES

DEMO_PASSWORD = "demo-salasana-2026"
START_LIMIT_S = 90.0


def _free_block(count: int, taken: set[int]) -> int:
    """A base port with ``count`` free ports from it, none of them in ``taken``."""
    for _ in range(200):
        base = random.randint(20000, 60000)
        ports = set(range(base, base + count))
        if not ports & taken and not any(port_in_use("127.0.0.1", p) for p in ports):
            taken |= ports
            return base
    raise RuntimeError("no free port block")


def _processes_of(data_dir: Path) -> list[str]:
    """Processes whose command line names ``data_dir`` (the servers) or whose POLKU_DATA_DIR
    lies in it (the Polku processes), as "pid: command line"."""
    found = []
    marker = str(data_dir)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        ours = any(e.startswith(b"POLKU_DATA_DIR=" + marker.encode()) for e in environ)
        if marker in cmdline or ours:
            found.append(f"{proc.name}: {cmdline.strip()}")
    return found


def _pid_of(data_dir: Path, *parts: str) -> int:
    for line in _processes_of(data_dir):
        pid, cmdline = line.split(": ", 1)
        if all(p in cmdline for p in parts):
            return int(pid)
    raise LookupError(parts)


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Not pytest's tmp_path: as root PostgreSQL runs as the postgres user, who must reach it.
    path = Path(tempfile.mkdtemp(prefix="polku-cluster-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _stream_replicas(url: str) -> dict[str, int]:
    import nats

    async def go() -> dict[str, int]:
        nc = await nats.connect(url, connect_timeout=5)
        try:
            js = nc.jetstream()
            from shared.events.streams import STREAMS

            return {s.name: (await js.stream_info(s.name)).config.num_replicas or 0 for s in STREAMS}
        finally:
            await nc.close()

    return asyncio.run(go())


def test_cluster_runs_the_topology_survives_a_nats_node_and_stops_clean(data_dir: Path) -> None:
    if not (PG_BIN / "postgres").exists():
        pytest.skip(f"PostgreSQL binaries not found in {PG_BIN}")
    taken: set[int] = set()
    ports = {
        "http": _free_block(1, taken),
        "temporal": _free_block(1, taken),
        "ui": _free_block(1, taken),
        "nats": _free_block(3, taken),
        "routes": _free_block(3, taken),
        "postgres": _free_block(1, taken),
        "services": _free_block(len(SERVICES), taken),
    }
    env = {
        **os.environ,
        "POLKU_DATA_DIR": str(data_dir),
        "POLKU_HTTP_PORT": str(ports["http"]),
        "POLKU_TEMPORAL_ADDRESS": f"127.0.0.1:{ports['temporal']}",
        "POLKU_TEMPORAL_UI_PORT": str(ports["ui"]),
        "POLKU_NATS_PORT": str(ports["nats"]),
        "POLKU_NATS_URL": f"nats://127.0.0.1:{ports['nats']}",
        "POLKU_NATS_CLUSTER_PORT": str(ports["routes"]),
        "POLKU_POSTGRES_PORT": str(ports["postgres"]),
        "POLKU_SERVICE_PORT_BASE": str(ports["services"]),
        "POLKU_COOKIE_SECURE": "false",
    }
    env.pop("POLKU_DATABASE_URL", None)
    out_path = data_dir / "dev.out"
    out = out_path.open("w+")
    origin = f"http://127.0.0.1:{ports['http']}"
    timings: dict[str, float] = {}
    started = time.monotonic()
    dev = subprocess.Popen(
        [sys.executable, "-m", "polku", "dev", "--cluster"], env=env, stdout=out, stderr=subprocess.STDOUT
    )

    def output() -> str:
        return out_path.read_text()

    def wait_for(what: str, check: Any, limit_s: float) -> Any:
        deadline = time.monotonic() + limit_s
        last: Any = None
        while time.monotonic() < deadline:
            assert dev.poll() is None, f"polku dev exited while waiting for {what}:\n{output()}"
            try:
                last = check()
                if last:
                    return last
            except httpx.HTTPError as exc:
                last = exc
            time.sleep(0.3)
        raise AssertionError(f"no {what} within {limit_s:.0f} s (last: {last!r}):\n{output()}")

    try:
        # Every service healthy, each in its own process on its own port, behind the origin.
        health = wait_for(
            "healthy origin",
            lambda: (r := httpx.get(f"{origin}/healthz", timeout=3)).status_code == 200 and r.json(),
            START_LIMIT_S,
        )
        timings["healthy"] = time.monotonic() - started
        assert set(health["services"]) == set(SERVICES)
        for i, name in enumerate(SERVICES):
            own = httpx.get(f"http://127.0.0.1:{ports['services'] + i}/healthz", timeout=5)
            assert own.status_code == 200 and own.json()["service"] == name
            assert _pid_of(data_dir, "polku serve", name, f"--port {ports['services'] + i}")
        ours = _processes_of(data_dir)
        assert sum(1 for p in ours if p.endswith("-m polku worker")) == 2, ours
        assert sum(1 for p in ours if p.endswith("polku serve all --proxy")) == 1, ours
        assert sum(1 for p in ours if " -n nats-" in p) == 3, ours

        # The demo data went in through the origin: clients registered by intake, their
        # journeys moved by coaching, the events projected by reporting.
        wait_for("demo data", lambda: "Polku is running" in output(), START_LIMIT_S - timings["healthy"])
        timings["demo loaded"] = time.monotonic() - started
        with httpx.Client(base_url=origin, timeout=30) as http:
            token = http.post(
                "/api/v1/auth/token", json={"username": "kaisa.valmentaja", "password": DEMO_PASSWORD}
            ).json()["access_token"]
            http.headers["Authorization"] = f"Bearer {token}"
            me = http.get("/api/v1/me").json()

            def caseload_ids() -> set[str]:
                r = http.get("/api/v1/reports/caseload")
                assert r.status_code == 200, r.text
                return {c["client_id"] for coach in r.json()["coaches"] for c in coach["clients"]}

            assert wait_for("demo clients in the caseload", caseload_ids, 30)

            def register(first: str) -> str:
                r = http.post(
                    "/api/v1/clients",
                    json={
                        "coach_id": me["id"],
                        "first_name": first,
                        "last_name": "Klusteri",
                        "consent": {"processing": True},
                    },
                )
                if r.status_code >= 500:
                    return ""  # retried by wait_for
                assert r.status_code == 201, r.text
                client_id: str = r.json()["client_id"]
                return client_id

            first = wait_for("a registration", lambda: register("Aino"), 20)
            wait_for("the new client in reporting's caseload", lambda: first in caseload_ids(), 30)
            timings["registered"] = time.monotonic() - started

            # The streams live on three nodes.
            replicas = _stream_replicas(f"nats://127.0.0.1:{ports['nats'] + 1}")
            assert set(replicas.values()) == {3}, replicas

            # Kill the NATS node every process connected to first: they move to the others.
            node = _pid_of(data_dir, "nats-server", "-n nats-1 ")
            os.kill(node, signal.SIGKILL)
            killed = time.monotonic()
            wait_for("the node's death reported", lambda: "nats-1 exited" in output(), 10)
            assert "2 of 3 NATS nodes run on" in output()
            second = wait_for("a registration after the node died", lambda: register("Eino"), 30)
            wait_for("the second client in reporting's caseload", lambda: second in caseload_ids(), 45)
            timings["after node kill"] = time.monotonic() - killed
            assert dev.poll() is None, output()
            assert httpx.get(f"{origin}/readyz", timeout=10).status_code == 200
    finally:
        stop = time.monotonic()
        dev.send_signal(signal.SIGINT)
        try:
            code = dev.wait(60)
        except subprocess.TimeoutExpired:
            dev.kill()
            raise
        timings["stop"] = time.monotonic() - stop
        out.close()
    assert code == 0, output()
    assert _processes_of(data_dir) == []
    used = [ports["http"], ports["temporal"], ports["postgres"], *range(ports["nats"], ports["nats"] + 3)]
    used += range(ports["services"], ports["services"] + len(SERVICES))
    assert [p for p in used if port_in_use("127.0.0.1", p)] == []
    assert (data_dir / "cluster" / "postgres" / "data" / "PG_VERSION").exists()
    print("polku dev --cluster: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
