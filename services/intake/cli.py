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


@app.command("reindex")
def reindex() -> None:
    """Recompute the blind indexes (identity code, names) under POLKU_BLIND_INDEX_KEY, after a
    key rotation; run it with the old key as POLKU_BLIND_INDEX_KEY_PREVIOUS in every service."""
    from services.intake.rotation import reindex as run

    n = asyncio.run(run(get_settings()))
    typer.echo(f"clients: {n} reindexed")
