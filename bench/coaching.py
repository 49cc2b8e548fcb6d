"""Benchmark: the coaching pages on the embedded stack (not a test; it asserts nothing).

    .venv/bin/python bench/coaching.py [--runs 60] [--moves 60] [--clients 20]
    make bench-coaching

Starts ``polku dev`` (Temporal dev server with SQLite, nats-server, every service and the
worker, demo data) in a temporary directory on free ports, adds an organisation with one
coach holding ``--clients`` clients, logs in through the login form as a browser does and
times, one request at a time:
- the caseload dashboard (``GET /``: the reporting caseload, the registry's names, each
  journey's state from coaching's journey snapshots - the workflow only for journeys
  without one - and the audit records) - target p95 <= 100 ms;
- the client page (``GET /clients/{id}``: registry, journey, timeline, legal moves);
- a move from the button press to the updated fragment (``POST /clients/{id}/moves`` as
  htmx sends it, answered with the re-rendered journey, moves and timeline) - target
  p95 <= 200 ms. Moves alternate rest/resume and advance/step back over the clients, so
  every one is legal.
Figures are printed with the load averages before and after (the machine may be shared);
``--json`` prints them as JSON too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from polku.devstack import free_port  # noqa: E402
from shared.contracts.journey import Role  # noqa: E402
from shared.db import Database  # noqa: E402
from shared.identity import Identity  # noqa: E402
from shared.settings import Settings  # noqa: E402

PASSWORD = "bench-salasana-2026"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": round(_pct(values, 0.5) * 1000, 1),
        "p95_ms": round(_pct(values, 0.95) * 1000, 1),
        "max_ms": round(max(values) * 1000, 1),
        "mean_ms": round(statistics.fmean(values) * 1000, 1),
    }


def start_stack(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    ports = {name: free_port() for name in ("http", "temporal", "ui", "nats")}
    env = {
        **os.environ,
        "POLKU_DATA_DIR": str(data_dir),
        "POLKU_HTTP_PORT": str(ports["http"]),
        "POLKU_TEMPORAL_ADDRESS": f"127.0.0.1:{ports['temporal']}",
        "POLKU_TEMPORAL_UI_PORT": str(ports["ui"]),
        "POLKU_NATS_PORT": str(ports["nats"]),
        "POLKU_NATS_URL": f"nats://127.0.0.1:{ports['nats']}",
        "POLKU_COOKIE_SECURE": "false",
        "POLKU_LOG_LEVEL": "WARNING",
    }
    log = data_dir.parent / "dev.out"
    out = log.open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "polku", "dev"], env=env, stdout=out, stderr=subprocess.STDOUT)
    origin = f"http://127.0.0.1:{ports['http']}"
    started = time.monotonic()
    while "Polku is running" not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() - started > 300:
            raise RuntimeError("polku dev did not start:\n" + log.read_text(errors="replace")[-3000:])
        time.sleep(0.5)
    return proc, origin


async def add_coach(settings: Settings) -> tuple[uuid.UUID, str]:
    db = Database(settings, "platform", immediate=True)
    try:
        ident = Identity(db)
        org = await ident.add_organisation(f"Bench {uuid.uuid4().hex[:6]}", "kymenlaakso")
        team = await ident.add_team(org, "Bench team")
        username = f"bench-coach-{org.hex[:6]}"
        coach = await ident.add_user(org, username, PASSWORD, Role.COACH, display_name="Bench Coach", team_id=team)
        await ident.add_user(org, f"bench-coach2-{org.hex[:6]}", PASSWORD, Role.COACH, team_id=team)
        return coach, username
    finally:
        await db.dispose()


def login(origin: str, username: str) -> httpx.Client:
    http = httpx.Client(base_url=origin, timeout=30, follow_redirects=False)
    token = CSRF.search(http.get("/login").text)
    assert token
    r = http.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)})
    assert r.status_code == 303, r.text
    return http


def register(origin: str, username: str, coach: uuid.UUID, n: int) -> list[str]:
    r = httpx.post(f"{origin}/api/v1/auth/token", json={"username": username, "password": PASSWORD}, timeout=30)
    r.raise_for_status()
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    ids = []
    with httpx.Client(base_url=origin, headers=headers, timeout=30) as api:
        for i in range(n):
            name = "".join(chr(ord("a") + int(d, 16) % 26) for d in uuid.uuid4().hex[:7])
            r = api.post(
                "/api/v1/clients",
                json={
                    "coach_id": str(coach),
                    "first_name": ("Aino", "Eino", "Helmi", "Onni")[i % 4],
                    "last_name": "Bench" + name,
                    "consent": {"processing": True},
                },
            )
            r.raise_for_status()
            client_id = r.json()["client_id"]
            ids.append(client_id)
            # Spread the clients over the phases: every second one in vocational profiling.
            if i % 2:
                api.post(f"/api/v1/journeys/{client_id}/moves", json={"action": "advance"}).raise_for_status()
    return ids


def time_get(http: httpx.Client, path: str, runs: int, must: str) -> list[float]:
    for _ in range(3):  # warm up
        http.get(path)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        r = http.get(path)
        times.append(time.perf_counter() - started)
        assert r.status_code == 200 and must in r.text, (path, r.status_code)
    return times


def time_moves(http: httpx.Client, clients: list[str], moves: int) -> tuple[list[float], int]:
    token = CSRF.search(http.get(f"/clients/{clients[0]}").text)
    assert token
    review = (date.today() + timedelta(days=14)).isoformat()
    # Each client alternates: resting clients resume, active ones rest (the INTAKE ones) or
    # advance/step back (the PROFILING ones).
    state: dict[str, int] = dict.fromkeys(clients, 0)
    times: list[float] = []
    refused = 0
    for i in range(moves):
        client_id = clients[i % len(clients)]
        odd = clients.index(client_id) % 2 == 1
        step = state[client_id]
        if odd:
            data = {"action": "advance"} if step % 2 == 0 else {"action": "step_back", "to_phase": "PROFILING"}
        else:
            data = (
                {"action": "rest", "reason": "other", "review_date": review} if step % 2 == 0 else {"action": "resume"}
            )
        state[client_id] = step + 1
        started = time.perf_counter()
        r = http.post(
            f"/clients/{client_id}/moves",
            data={"csrf_token": token.group(1), **data},
            headers={"HX-Request": "true", "HX-Target": "journey-live"},
        )
        times.append(time.perf_counter() - started)
        if r.status_code != 200 or 'id="journey-live"' not in r.text:
            refused += 1
    return times, refused


def run(args: argparse.Namespace) -> dict[str, Any]:
    load_before = os.getloadavg()
    base = Path(tempfile.mkdtemp(prefix="polku-bench-coaching-"))
    data_dir = base / "data"
    proc, origin = start_stack(data_dir)
    try:
        settings = Settings(data_dir=data_dir)
        coach, username = asyncio.run(add_coach(settings))
        clients = register(origin, username, coach, args.clients)
        http = login(origin, username)
        # Wait until the caseload projection lists every client.
        deadline = time.monotonic() + 60
        while http.get("/").text.count('href="/clients/') < args.clients:
            if time.monotonic() > deadline:
                raise RuntimeError("the caseload did not list every client within 60 s")
            time.sleep(0.5)
        dashboard = time_get(http, "/", args.runs, clients[-1])
        client_page = time_get(http, f"/clients/{clients[0]}", args.runs, 'id="journey-live"')
        moves, refused = time_moves(http, clients, args.moves)
        return {
            "clients_on_dashboard": args.clients,
            "dashboard": _summary(dashboard),
            "client_page": _summary(client_page),
            "move_to_fragment": _summary(moves),
            "moves_refused": refused,
            "targets_ms": {"dashboard_p95": 100, "client_page_p95": 100, "move_p95": 200},
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        }
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        if not args.keep:
            import shutil

            shutil.rmtree(base, ignore_errors=True)
        else:
            print(f"kept: {base}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20, help="clients on the coach's dashboard")
    parser.add_argument("--runs", type=int, default=60, help="timed page loads of each page")
    parser.add_argument("--moves", type=int, default=60, help="timed moves")
    parser.add_argument("--json", action="store_true", help="print the result as JSON too")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    args = parser.parse_args()
    result = run(args)
    print(f"coaching pages on the embedded stack, one request at a time ({os.cpu_count()} cores)")
    print(f"{'':28}{'n':>5}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}   target p95")
    for key, label, target in (
        ("dashboard", f"dashboard, {args.clients} clients", 100),
        ("client_page", "client page", 100),
        ("move_to_fragment", "move -> updated fragment", 200),
    ):
        s = result[key]
        print(f"{label:28}{s['n']:>5}{s['p50_ms']:>9}{s['p95_ms']:>9}{s['max_ms']:>9}   {target} ms")
    print(f"moves refused: {result['moves_refused']}")
    print(f"load average (1, 5, 15 min) before: {result['load_average_before']}, after: {result['load_average_after']}")
    if args.json:
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
