"""``polku intake ...``: intake's maintenance commands."""

from __future__ import annotations

import asyncio

import typer

from shared.settings import get_settings

app = typer.Typer(help="Intake: the client registry.", no_args_is_help=True)


@app.command("reencrypt")
def reencrypt() -> None:
    """Re-encrypt personal fields under the active field key (after POLKU_FIELD_KEY_ACTIVE changed)."""
    from services.intake.rotation import reencrypt as run

    counts = asyncio.run(run(get_settings()))
    for table, n in counts.items():
        typer.echo(f"{table}: {n} values re-encrypted")
