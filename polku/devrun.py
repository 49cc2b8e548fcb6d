"""``polku dev``: the whole system on embedded defaults, in one command.

``polku dev --cluster`` runs the production topology as local processes instead: three
clustered NATS nodes, PostgreSQL, the Temporal dev server, each service in its own
process on its own port, two workers, and the proxy origin in front of the services.
"""

from __future__ import annotations

import asyncio
import os
import sys

import httpx

from polku.devstack import cluster_env, cluster_settings, run_dev
from shared.settings import SERVICES, Settings

WORKERS = 2


def run(settings: Settings, *, cluster: bool = False) -> int:
    python = sys.executable
    polku = [python, "-m", "polku"]
    if cluster:
        if settings.database_url:
            print(
                "polku dev: POLKU_DATABASE_URL is ignored with --cluster (it starts its own PostgreSQL)",
                file=sys.stderr,
                flush=True,
            )
        settings = cluster_settings(settings)
        env = {**os.environ, **cluster_env(settings)}
        host = "127.0.0.1"
        children = [
            (name, [*polku, "serve", name, "--host", host, "--port", str(settings.service_port_base + i)])
            for i, name in enumerate(SERVICES)
        ]
        children += [(f"worker-{i}", [*polku, "worker"]) for i in range(1, WORKERS + 1)]
        children.append(("proxy", [*polku, "serve", "all", "--proxy"]))
    else:
        env = {**os.environ, "POLKU_DATA_DIR": str(settings.data_dir.resolve())}
        children = [
            ("web", [*polku, "serve", "all"]),
            ("worker", [*polku, "worker"]),
        ]

    async def prepare() -> None:
        from shared.keys import load_keys
        from shared.migrations import upgrade_all

        # Every process reads the same generated keys: make them once, before any starts.
        load_keys(settings)
        await asyncio.to_thread(upgrade_all, settings)
        print("polku dev: databases migrated", flush=True)

    async def ready() -> None:
        await _wait_ready(settings.origin)
        from polku.demo import load_demo_data

        print(f"polku dev: {await load_demo_data(settings)}", flush=True)
        ui = settings.temporal_ui_url or f"http://127.0.0.1:{settings.temporal_ui_port}"
        lines = [
            "",
            "Polku is running. Ctrl-C stops everything.",
            f"  Web UI                 {settings.origin}/",
            f"  API docs               {settings.origin}/api/v1/coaching/docs "
            "(and /api/v1/intake/docs, /employer/docs, /reporting/docs)",
            f"  Event docs (AsyncAPI)  {settings.origin}/api/v1/events/asyncapi",
            f"  Temporal Web UI        {ui}",
            f"  Health                 {settings.origin}/healthz",
            f"  Logs                   {settings.data_dir / 'logs'}",
        ]
        if cluster:
            nats = ", ".join(str(settings.nats_port + i) for i in range(3))
            services = ", ".join(f"{n} :{settings.service_port_base + i}" for i, n in enumerate(SERVICES))
            lines += [
                f"  Services               {services}",
                f"  NATS nodes             127.0.0.1 ports {nats} (3 stream replicas)",
                f"  PostgreSQL             127.0.0.1:{settings.postgres_port}, database polku",
            ]
        print("\n".join([*lines, ""]), flush=True)

    return run_dev(
        settings,
        children,
        after_servers_ready=prepare,
        after_children_ready=ready,
        child_env=env,
        cluster=cluster,
        stop_timeout=20.0 if cluster else 10.0,
    )


async def _wait_ready(origin: str, timeout: float = 90) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    async with httpx.AsyncClient(timeout=5) as http:
        while True:
            try:
                if (await http.get(f"{origin}/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"the services did not become ready in {timeout:.0f} s; see the logs")
            await asyncio.sleep(0.3)
