"""``polku retention ...``: the retention schedule and a run on demand."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Annotated

import typer

from shared.settings import get_settings

app = typer.Typer(
    help="Retention: erasing closed journeys' personal data after the retention period.", no_args_is_help=True
)


@app.command("schedule")
def schedule(
    every_hours: Annotated[float, typer.Option(help="how often the retention workflow runs", min=0.01)] = 24.0,
) -> None:
    """Create (or update) the Temporal Schedule that runs the retention workflow; the worker does it at start too."""
    from workflows.client import connect
    from workflows.retention import ensure_schedule

    async def go() -> str:
        settings = get_settings()
        client = await connect(settings)
        return await ensure_schedule(client, settings, every=timedelta(hours=every_hours))

    typer.echo(f"schedule {asyncio.run(go())}: every {every_hours:g} h")


@app.command("run")
def run(
    limit: Annotated[int, typer.Option(help="journeys erased at most", min=1, max=10_000)] = 500,
    org: Annotated[list[uuid.UUID] | None, typer.Option("--org", help="only this organisation (repeatable)")] = None,
) -> None:
    """Run the retention workflow once now (a worker must be running) and print what it did."""
    from workflows.client import connect
    from workflows.retention import run_sweep

    async def go() -> str:
        settings = get_settings()
        result = await run_sweep(await connect(settings), settings, limit, org or None)
        return result.model_dump_json()

    typer.echo(asyncio.run(go()))
