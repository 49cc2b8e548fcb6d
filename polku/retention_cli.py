"""``polku retention ...``: the retention schedule and a run on demand."""

from __future__ import annotations

import asyncio
import gc
import uuid
from datetime import timedelta
from typing import Annotated

import typer

from shared.settings import get_settings

app = typer.Typer(
    help="Retention: erasing closed journeys' personal data after the retention period.", no_args_is_help=True
)


# Each command frees its Temporal client (and the core's connection) while the event loop
# still runs: left to the interpreter's exit, the core's threads may meet a finalising
# runtime and abort the process after the command's work succeeded.


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
        try:
            return await ensure_schedule(client, settings, every=timedelta(hours=every_hours))
        finally:
            del client
            gc.collect()

    typer.echo(f"schedule {asyncio.run(go())}: every {every_hours:g} h")


@app.command("years")
def years(
    org: Annotated[uuid.UUID, typer.Argument(help="organisation id")],
    value: Annotated[int, typer.Argument(help="years a closed journey's personal data is kept", min=1, max=100)],
) -> None:
    """Set an organisation's retention period in years (10 by default)."""
    from shared.db import Database
    from shared.retention import set_retention_years

    async def go() -> bool:
        db = Database(get_settings(), "platform", immediate=True)
        try:
            return await set_retention_years(db, org, value)
        finally:
            await db.dispose()

    if not asyncio.run(go()):
        typer.echo(f"polku: no organisation {org}", err=True)
        raise typer.Exit(2)
    typer.echo(f"organisation {org}: retention {value} years")


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
        client = await connect(settings)
        try:
            result = await run_sweep(client, settings, limit, org or None)
        finally:
            del client
            gc.collect()
        return result.model_dump_json()

    typer.echo(asyncio.run(go()))
