"""``polku reporting ...``: the reporting service's maintenance commands."""

from __future__ import annotations

import asyncio

import typer

from shared.settings import get_settings

app = typer.Typer(help="Reporting projections.", no_args_is_help=True)


@app.command("rebuild")
def rebuild_command() -> None:
    """Drop the projections and replay the event streams from the start (fidelity reviews stay)."""
    from services.reporting.rebuild import rebuild

    result = asyncio.run(rebuild(get_settings(), progress=typer.echo))
    replayed = ", ".join(f"{name} {n}" for name, n in result.streams.items())
    typer.echo(
        f"rebuilt in {result.seconds} s: {replayed}; applied {result.applied}, "
        f"duplicates {result.duplicates}, without projection {result.skipped}, invalid {result.invalid}"
    )
