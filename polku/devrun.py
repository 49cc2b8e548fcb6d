"""``polku dev``: the whole system on embedded defaults, in one command."""

from __future__ import annotations

import asyncio
import os
import sys

import httpx

from polku.devstack import run_dev
from shared.settings import Settings


def run(settings: Settings) -> int:
    python = sys.executable
    env = {**os.environ, "POLKU_DATA_DIR": str(settings.data_dir.resolve())}
    children = [
        ("web", [python, "-m", "polku", "serve", "all"]),
        ("worker", [python, "-m", "polku", "worker"]),
    ]

    async def migrate() -> None:
        from shared.migrations import upgrade_all

        await asyncio.to_thread(upgrade_all, settings)
        print("polku dev: databases migrated", flush=True)

    async def ready() -> None:
        await _wait_ready(settings.origin)
        from polku.demo import load_demo_data

        print(f"polku dev: {await load_demo_data(settings)}", flush=True)
        ui = settings.temporal_ui_url or f"http://127.0.0.1:{settings.temporal_ui_port}"
        print(
            "\n".join(
                [
                    "",
                    "Polku is running. Ctrl-C stops everything.",
                    f"  Web UI                 {settings.origin}/",
                    f"  API docs               {settings.origin}/api/v1/coaching/docs "
                    "(and /api/v1/intake/docs, /employer/docs, /reporting/docs)",
                    f"  Event docs (AsyncAPI)  {settings.origin}/api/v1/events/asyncapi",
                    f"  Temporal Web UI        {ui}",
                    f"  Health                 {settings.origin}/healthz",
                    f"  Logs                   {settings.data_dir / 'logs'}",
                    "",
                ]
            ),
            flush=True,
        )

    return run_dev(settings, children, after_servers_ready=migrate, after_children_ready=ready, child_env=env)


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
