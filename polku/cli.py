"""The ``polku`` command: one entry point, a sub-command per job."""

from __future__ import annotations

import asyncio
import sys
import uuid
from typing import Annotated

import typer

from polku import retention_cli
from services.intake import cli as intake_cli
from services.reporting import cli as reporting_cli
from shared.contracts.journey import Role
from shared.settings import SERVICES, Settings, get_settings

app = typer.Typer(help="Polku: IPS supported employment coaching.", no_args_is_help=True, add_completion=False)
orgs_app = typer.Typer(help="Organisations.", no_args_is_help=True)
users_app = typer.Typer(help="User accounts.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks (figures, not tests).", no_args_is_help=True)
deploy_app = typer.Typer(help="Deployment files generated from the code.", no_args_is_help=True)
app.add_typer(orgs_app, name="orgs")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.add_typer(bench_app, name="bench")
app.add_typer(reporting_cli.app, name="reporting")
app.add_typer(intake_cli.app, name="intake")
app.add_typer(retention_cli.app, name="retention")
app.add_typer(deploy_app, name="deploy")

# Seconds an idle HTTP connection stays open (see ``serve``).
KEEP_ALIVE_S = 75


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"polku: {message}", err=True)
    raise typer.Exit(code)


@app.command()
def migrate() -> None:
    """Bring every database to its newest schema."""
    from shared.migrations import upgrade_all

    names = upgrade_all(get_settings())
    typer.echo(f"migrated: {', '.join(names)}")


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help=f"one of {', '.join(SERVICES)}, or 'all' behind one origin")],
    host: Annotated[str | None, typer.Option(help="default POLKU_HTTP_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="default POLKU_HTTP_PORT")] = None,
    proxy: Annotated[
        bool,
        typer.Option(
            "--proxy",
            help="with 'all': only the origin, forwarding each request to the service's own process "
            "(POLKU_SERVICE_URLS, default 127.0.0.1:POLKU_SERVICE_PORT_BASE+i)",
        ),
    ] = False,
) -> None:
    """Serve one service's API (production), or all of them behind one origin."""
    import uvicorn

    from polku.gateway import create_gateway, create_proxy, create_service_app
    from shared.service import freeze_startup_heap

    settings = get_settings()
    if proxy and service != "all":
        _fail("--proxy goes with 'all' (the origin in front of every service)", 2)
    if service == "all":
        asgi: object = create_proxy(settings) if proxy else create_gateway(settings)
    elif service in SERVICES:
        asgi = create_service_app(service, settings)
    else:
        _fail(f"unknown service {service!r}; one of {', '.join(SERVICES)} or 'all'", 2)
    freeze_startup_heap()
    uvicorn.run(
        asgi,  # type: ignore[arg-type]
        host=host or settings.http_host,
        port=port or settings.http_port,
        log_level=settings.log_level.lower(),
        access_log=False,  # paths only would be fine, but query strings may hold search terms
        proxy_headers=True,
        # Longer than any client's or proxy's idle keep-alive (httpx 5 s, nginx and load
        # balancers 60 s): with uvicorn's default of 5 s a client could send on a connection
        # the server was closing at that moment ("Server disconnected without sending a
        # response", a 502 behind a proxy).
        timeout_keep_alive=KEEP_ALIVE_S,
        timeout_graceful_shutdown=10,
    )


@app.command()
def worker() -> None:
    """Run the Temporal worker for client journeys."""
    from shared.service import freeze_startup_heap
    from workflows.worker import run_worker

    freeze_startup_heap()
    asyncio.run(run_worker(get_settings()))


@app.command()
def dev(
    cluster: Annotated[
        bool,
        typer.Option(
            "--cluster",
            help="the production topology as local processes: three clustered NATS nodes, PostgreSQL, "
            "each service and two workers in their own processes, the proxy origin in front",
        ),
    ] = False,
) -> None:
    """Start the whole system on embedded defaults, load demo data, print the URLs."""
    from polku.devrun import run

    raise typer.Exit(run(get_settings(), cluster=cluster))


@app.command("demo-data")
def demo_data() -> None:
    """Create the demo organisations, users and clients (once; a second run changes nothing)."""
    from polku.demo import load_demo_data

    summary = asyncio.run(load_demo_data(get_settings()))
    typer.echo(summary)


@orgs_app.command("add")
def orgs_add(
    name: Annotated[str, typer.Argument(help="organisation name")],
    region: Annotated[str, typer.Option("--region", help="wellbeing region id, e.g. kymenlaakso")],
) -> None:
    """Add an organisation; prints its id."""
    from shared.db import Database
    from shared.identity import Identity, IdentityError

    async def go(settings: Settings) -> uuid.UUID:
        db = Database(settings, "platform", immediate=True)
        try:
            return await Identity(db).add_organisation(name, region)
        finally:
            await db.dispose()

    try:
        typer.echo(str(asyncio.run(go(get_settings()))))
    except IdentityError as exc:
        _fail(str(exc), 2)


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument()],
    org: Annotated[uuid.UUID, typer.Option("--org", help="organisation id")],
    role: Annotated[Role, typer.Option("--role")],
    fte: Annotated[float, typer.Option(help="full-time equivalent, for caseload")] = 1.0,
    team: Annotated[str | None, typer.Option(help="team name in the organisation; created if new")] = None,
) -> None:
    """Add a user; reads the password from stdin, prints the user's id."""
    from shared.db import Database
    from shared.identity import Identity, IdentityError

    password = sys.stdin.readline().rstrip("\r\n")

    async def go(settings: Settings) -> uuid.UUID:
        db = Database(settings, "platform", immediate=True)
        try:
            identity = Identity(db)
            team_id = None
            if team is not None:
                found = await identity.team_by_name(org, team)
                team_id = found.id if found else await identity.add_team(org, team)
            return await identity.add_user(org, username, password, role, fte=fte, team_id=team_id)
        finally:
            await db.dispose()

    try:
        typer.echo(str(asyncio.run(go(get_settings()))))
    except IdentityError as exc:
        _fail(str(exc), 2)


@audit_app.command("verify")
def audit_verify() -> None:
    """Check every organisation's audit hash chain; exit 1 naming the first broken link."""
    from shared.audit import verify_chain
    from shared.db import Database

    async def go(settings: Settings) -> int:
        db = Database(settings, "platform")
        try:
            reports = await verify_chain(db)
        finally:
            await db.dispose()
        broken = 0
        for r in reports:
            if r.broken is None:
                typer.echo(f"organisation {r.organisation_id}: {r.records} records, chain intact")
            else:
                broken += 1
                typer.echo(str(r.broken))
        if not reports:
            typer.echo("no audit records yet")
        return 1 if broken else 0

    raise typer.Exit(asyncio.run(go(get_settings())))


@deploy_app.command("proxy-config")
def deploy_proxy_config() -> None:
    """Print the reverse proxy's Caddyfile (deploy/caddy/Caddyfile), generated from the route tables."""
    from polku.deployconfig import caddyfile, proxy_rules, service_apps

    typer.echo(caddyfile(proxy_rules(service_apps())), nl=False)


@deploy_app.command("k8s-configmaps")
def deploy_k8s_configmaps() -> None:
    """Print deploy/k8s/configmaps.yaml: the Caddyfile and the config files under deploy/ as ConfigMaps."""
    from polku.deployconfig import caddyfile, k8s_configmaps, proxy_rules, service_apps

    typer.echo(k8s_configmaps(caddyfile(proxy_rules(service_apps()))), nl=False)


@deploy_app.command("secrets")
def deploy_secrets() -> None:
    """Print fresh keys and database passwords as a .env file for docker compose (keep it out of git)."""
    from polku.deployconfig import secrets_env

    typer.echo(secrets_env(), nl=False)


@bench_app.command("journeys", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def bench_journeys(ctx: typer.Context) -> None:
    """Journey moves against bare Temporal Updates (bench/journeys.py; --help for its options)."""
    import subprocess
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "bench" / "journeys.py"
    if not script.exists():
        _fail(f"{script} is missing: benchmarks run from a source checkout")
    raise typer.Exit(subprocess.call([sys.executable, str(script), *ctx.args]))


def _bench_module(name: str, args: list[str]) -> None:
    """Run ``python -m bench.{name}`` from the source checkout the command belongs to."""
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    if not (root / "bench" / f"{name}.py").exists():
        _fail(f"{root / 'bench' / name}.py is missing: benchmarks run from a source checkout")
    raise typer.Exit(subprocess.call([sys.executable, "-m", f"bench.{name}", *args], cwd=root))


@bench_app.command(
    "faults",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
)
def bench_faults(ctx: typer.Context) -> None:
    """The fault test: load through the cluster topology while parts fail (bench/faults.py; --help)."""
    _bench_module("faults", ctx.args)


@bench_app.command(
    "region",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
)
def bench_region(ctx: typer.Context) -> None:
    """A wellbeing region's load at 1x, 10x, 100x on the cluster topology (bench/region.py; --help)."""
    _bench_module("region", ctx.args)


def main() -> None:
    app()
