"""``polku dev --cluster``'s topology as local processes, with a handle on each one.

``polku dev --cluster`` stops the whole stack when a process dies: right for a developer,
wrong for a fault test, which kills processes on purpose and brings them back. This module
builds the same topology from the same pieces (``polku.devstack``): the Temporal dev
server on its SQLite file, three clustered NATS nodes holding the streams with three
replicas, PostgreSQL, each service as its own process on its own port, two workers and the
proxy origin; and lets the caller kill, start and restart any one of them by name, and wait
until that part is ready again.

Names: ``temporal``, ``nats-1``..``nats-3``, ``postgres``, the services (``intake``,
``coaching``, ``employer``, ``reporting``), ``worker-1``.. and ``proxy``.
Used by ``bench/faults.py`` and ``bench/region.py``.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from polku.devstack import (
    NATS_CLUSTER_SIZE,
    ManagedProcess,
    cluster_env,
    cluster_settings,
    find_binary,
    nats_cluster_node_args,
    port_in_use,
    start_nats_cluster,
    start_postgres,
    start_process,
    start_temporal_dev_server,
    wait_nats_cluster_ready,
    wait_postgres_ready,
    wait_temporal_ready,
)
from shared.events.streams import STREAMS
from shared.settings import SERVICES, Settings

READY_TIMEOUT_S = 120.0


def _free_block(count: int, taken: set[int]) -> int:
    """A base port with ``count`` free ports from it, none of them in ``taken``."""
    for _ in range(500):
        base = random.randint(20000, 60000)
        ports = set(range(base, base + count))
        if not ports & taken and not any(port_in_use("127.0.0.1", p) for p in ports):
            taken |= ports
            return base
    raise RuntimeError("no free port block")


@dataclass(frozen=True)
class ClusterPorts:
    http: int
    temporal: int
    ui: int
    nats: int  # three: nats .. nats+2
    routes: int  # three
    postgres: int
    services: int  # one per service

    @classmethod
    def pick(cls) -> ClusterPorts:
        taken: set[int] = set()
        return cls(
            http=_free_block(1, taken),
            temporal=_free_block(1, taken),
            ui=_free_block(1, taken),
            nats=_free_block(NATS_CLUSTER_SIZE, taken),
            routes=_free_block(NATS_CLUSTER_SIZE, taken),
            postgres=_free_block(1, taken),
            services=_free_block(len(SERVICES), taken),
        )


class LocalCluster:
    """The cluster topology as processes; ``await start()``, then kill/restart by name."""

    def __init__(
        self, data_dir: Path, *, workers: int = 2, ports: ClusterPorts | None = None, log_level: str = "WARNING"
    ) -> None:
        self.ports = ports or ClusterPorts.pick()
        p = self.ports
        base = Settings(
            data_dir=data_dir,
            http_port=p.http,
            temporal_address=f"127.0.0.1:{p.temporal}",
            temporal_ui_port=p.ui,
            nats_port=p.nats,
            nats_url=f"nats://127.0.0.1:{p.nats}",
            nats_cluster_port=p.routes,
            postgres_port=p.postgres,
            service_port_base=p.services,
            cookie_secure=False,
            log_level=log_level,
        )
        self.settings = cluster_settings(base)
        env = {k: v for k, v in os.environ.items() if not k.startswith("POLKU_")}
        self.env: dict[str, str] = {
            **env,
            **cluster_env(self.settings),
            "POLKU_TEMPORAL_ADDRESS": self.settings.temporal_address,
            "POLKU_TEMPORAL_UI_PORT": str(p.ui),
            "POLKU_NATS_PORT": str(p.nats),
            "POLKU_NATS_CLUSTER_PORT": str(p.routes),
            "POLKU_POSTGRES_PORT": str(p.postgres),
            "POLKU_COOKIE_SECURE": "false",
            "POLKU_LOG_LEVEL": log_level,
        }
        self.data_dir = self.settings.data_dir
        self.logs = self.data_dir / "logs"
        self.procs: dict[str, ManagedProcess] = {}
        polku = [sys.executable, "-m", "polku"]
        self.commands: dict[str, list[str]] = {
            name: [*polku, "serve", name, "--host", "127.0.0.1", "--port", str(p.services + i)]
            for i, name in enumerate(SERVICES)
        }
        self.workers = [f"worker-{i}" for i in range(1, workers + 1)]
        for name in self.workers:
            self.commands[name] = [*polku, "worker"]
        self.commands["proxy"] = [*polku, "serve", "all", "--proxy"]
        self.nats_nodes = [f"nats-{i}" for i in range(1, NATS_CLUSTER_SIZE + 1)]

    # ------------------------------------------------------------------ addresses

    @property
    def origin(self) -> str:
        return self.settings.origin

    def nats_url(self, node: str) -> str:
        return f"nats://127.0.0.1:{self.ports.nats + self.nats_nodes.index(node)}"

    @property
    def nats_urls(self) -> list[str]:
        return [self.nats_url(n) for n in self.nats_nodes]

    def service_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports.services + SERVICES.index(name)}"

    # ------------------------------------------------------------------ whole cluster

    async def start(self) -> None:
        """Servers, migrations, then every Polku process; returns when the origin is ready."""
        from shared.keys import load_keys
        from shared.migrations import upgrade_all

        self.logs.mkdir(parents=True, exist_ok=True)
        self.start_part("temporal")
        nodes = start_nats_cluster(
            self.data_dir,
            [self.ports.nats + i for i in range(NATS_CLUSTER_SIZE)],
            [self.ports.routes + i for i in range(NATS_CLUSTER_SIZE)],
            self.logs,
        )
        self.procs.update({n.name: n for n in nodes})
        self.procs["postgres"] = start_postgres(
            self.data_dir / "postgres", self.ports.postgres, self.logs / "postgres.log"
        )
        await wait_temporal_ready(
            self.procs["temporal"], self.settings.temporal_address, namespace=self.settings.temporal_namespace
        )
        await wait_nats_cluster_ready(nodes, self.nats_urls, num_replicas=NATS_CLUSTER_SIZE)
        await wait_postgres_ready(self.procs["postgres"], self.ports.postgres)
        load_keys(self.settings)
        await asyncio.to_thread(upgrade_all, self.settings)
        for name in self.commands:
            self.start_part(name)
        await self.wait_http_ready(self.origin)

    async def stop(self) -> None:
        """Every Polku process, then NATS, PostgreSQL and Temporal."""
        children = [self.procs[n] for n in self.commands if n in self.procs]
        await asyncio.gather(*(p.stop_async(20.0) for p in children))
        for name in [*self.nats_nodes, "postgres", "temporal"]:
            if name in self.procs:
                await self.procs[name].stop_async(20.0)

    # ------------------------------------------------------------------ one part

    def start_part(self, name: str) -> ManagedProcess:
        """Start one part (not waiting); its log is ``logs/{name}.log`` (the last one kept as .1)."""
        if name == "temporal":
            proc = start_temporal_dev_server(
                self.data_dir,  # the same temporal.db every time: a restart keeps every workflow
                self.ports.temporal,
                self.ports.ui,
                self.logs / "temporal.log",
                namespaces=[self.settings.temporal_namespace],
            )
        elif name in self.nats_nodes:
            routes = [self.ports.routes + i for i in range(NATS_CLUSTER_SIZE)]
            i = self.nats_nodes.index(name)
            argv = [
                find_binary("nats-server"),
                *nats_cluster_node_args(self.data_dir / name, name, self.ports.nats + i, routes[i], routes),
            ]
            proc = start_process(name, argv, self.logs / f"{name}.log")
        elif name in self.commands:
            proc = start_process(name, self.commands[name], self.logs / f"{name}.log", env=self.env)
        else:
            raise KeyError(name)
        self.procs[name] = proc
        return proc

    def kill(self, name: str) -> None:
        """SIGKILL to the part's process group, and reap it."""
        proc = self.procs[name]
        proc.kill()
        proc.wait(10)

    async def terminate(self, name: str, grace_s: float = 20.0) -> None:
        """SIGTERM (a graceful stop), SIGKILL after ``grace_s``."""
        await self.procs[name].stop_async(grace_s)

    async def wait_ready(self, name: str, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Until the part serves again: Temporal answers with its search attributes; a NATS
        node is back in the cluster with every stream replica current; a service answers
        /readyz; a worker polls the task queue."""
        proc = self.procs[name]
        if name == "temporal":
            await wait_temporal_ready(
                proc, self.settings.temporal_address, namespace=self.settings.temporal_namespace, timeout_s=timeout_s
            )
        elif name in self.nats_nodes:
            await self.wait_streams_current(timeout_s)
        elif name in SERVICES:
            await self.wait_http_ready(self.service_url(name), timeout_s, proc)
        elif name == "proxy":
            await self.wait_http_ready(self.origin, timeout_s, proc)
        elif name in self.workers:
            await self.wait_worker_polling(proc, timeout_s)

    async def restart(self, name: str, *, kill: bool = False) -> None:
        """Stop (SIGTERM, or SIGKILL with ``kill``), start again, wait until ready."""
        if kill:
            self.kill(name)
        else:
            await self.terminate(name)
        self.start_part(name)
        await self.wait_ready(name)

    # ------------------------------------------------------------------ readiness

    async def wait_http_ready(
        self, url: str, timeout_s: float = READY_TIMEOUT_S, proc: ManagedProcess | None = None
    ) -> None:
        deadline = time.monotonic() + timeout_s
        last = ""
        async with httpx.AsyncClient(timeout=5) as http:
            while True:
                if proc is not None and not proc.running():
                    raise RuntimeError(f"{proc.name} exited ({proc.poll()}); see {proc.log_path}")
                try:
                    r = await http.get(f"{url}/readyz")
                    if r.status_code == 200:
                        return
                    last = r.text[:200]
                except httpx.HTTPError as exc:
                    last = type(exc).__name__
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{url} not ready in {timeout_s:.0f} s: {last}; logs in {self.logs}")
                await asyncio.sleep(0.2)

    async def wait_streams_current(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Every stream has a leader and all its replicas are current (caught up)."""
        import nats

        deadline = time.monotonic() + timeout_s
        last = ""
        while True:
            try:
                nc = await nats.connect(self.nats_urls, connect_timeout=2, max_reconnect_attempts=1)
                try:
                    js = nc.jetstream()
                    ok = True
                    for spec in STREAMS:
                        info = await js.stream_info(spec.name)
                        cluster = info.cluster
                        replicas = (cluster.replicas or []) if cluster else []
                        if cluster is None or not cluster.leader or len(replicas) != NATS_CLUSTER_SIZE - 1:
                            ok, last = False, f"{spec.name}: {len(replicas) + 1} of {NATS_CLUSTER_SIZE} replicas"
                            break
                        lagging = [r.name for r in replicas if not r.current or r.offline]
                        if lagging:
                            ok, last = False, f"{spec.name}: {', '.join(str(n) for n in lagging)} not current"
                            break
                    if ok:
                        return
                finally:
                    await nc.close()
            except Exception as exc:  # noqa: BLE001 - retried until the deadline
                last = type(exc).__name__
            if time.monotonic() > deadline:
                raise TimeoutError(f"NATS streams not current in {timeout_s:.0f} s: {last}")
            await asyncio.sleep(0.25)

    async def wait_worker_polling(self, proc: ManagedProcess, timeout_s: float = READY_TIMEOUT_S) -> None:
        """The worker's process polls the journey task queue (its identity is pid@host)."""
        from temporalio.api.enums.v1 import TaskQueueType
        from temporalio.api.taskqueue.v1 import TaskQueue
        from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
        from temporalio.client import Client

        identity = f"{proc.pid}@{socket.gethostname()}"
        deadline = time.monotonic() + timeout_s
        client = await Client.connect(self.settings.temporal_address, namespace=self.settings.temporal_namespace)
        while True:
            if not proc.running():
                raise RuntimeError(f"{proc.name} exited ({proc.poll()}); see {proc.log_path}")
            try:
                resp = await client.workflow_service.describe_task_queue(
                    DescribeTaskQueueRequest(
                        namespace=self.settings.temporal_namespace,
                        task_queue=TaskQueue(name=self.settings.temporal_task_queue),
                        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
                    )
                )
                if any(p.identity == identity for p in resp.pollers):
                    return
            except Exception:  # noqa: BLE001 - retried until the deadline
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{proc.name} ({identity}) not polling in {timeout_s:.0f} s")
            await asyncio.sleep(0.25)

    def dead(self) -> list[str]:
        """Parts whose process has exited."""
        return [name for name, proc in self.procs.items() if not proc.running()]


def signal_name(sig: int) -> str:
    return signal.Signals(sig).name
