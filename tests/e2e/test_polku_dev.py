"""`polku dev` as a person runs it: the whole system with demo data, healthy within 90 s,
the demo journeys listed by Temporal's visibility, and nothing left behind on Ctrl-C."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

from polku.demo import DEMO_PASSWORD, KYMI_EMPLOYERS
from polku.devstack import find_binary, free_port, port_in_use


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(f"{proc.name}: {cmdline}")
    return found


def test_polku_dev_runs_the_whole_system_and_stops_clean(tmp_path: Path) -> None:
    data_dir = tmp_path / "polku-data"
    ports = {name: free_port() for name in ("http", "temporal", "ui", "nats")}
    env = {
        **os.environ,
        "POLKU_DATA_DIR": str(data_dir),
        "POLKU_HTTP_PORT": str(ports["http"]),
        "POLKU_TEMPORAL_ADDRESS": f"127.0.0.1:{ports['temporal']}",
        "POLKU_TEMPORAL_UI_PORT": str(ports["ui"]),
        "POLKU_NATS_PORT": str(ports["nats"]),
        "POLKU_NATS_URL": f"nats://127.0.0.1:{ports['nats']}",
    }
    out = (tmp_path / "dev.out").open("w+")
    started = time.monotonic()
    dev = subprocess.Popen([sys.executable, "-m", "polku", "dev"], env=env, stdout=out, stderr=subprocess.STDOUT)
    origin = f"http://127.0.0.1:{ports['http']}"
    try:
        healthy_after = None
        while time.monotonic() - started < 90:
            assert dev.poll() is None, (tmp_path / "dev.out").read_text()
            try:
                health = httpx.get(f"{origin}/healthz", timeout=2)
                if health.status_code == 200:
                    healthy_after = time.monotonic() - started
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        assert healthy_after is not None, "no /healthz within 90 s:\n" + (tmp_path / "dev.out").read_text()
        services = health.json()["services"]
        assert set(services) == {"intake", "coaching", "employer", "reporting"}
        assert all(s["status"] == "ok" for s in services.values())
        for name in services:
            assert httpx.get(f"{origin}/healthz/{name}", timeout=5).status_code == 200

        while "Polku is running" not in (tmp_path / "dev.out").read_text():
            assert dev.poll() is None, (tmp_path / "dev.out").read_text()
            assert time.monotonic() - started < 240, (tmp_path / "dev.out").read_text()
            time.sleep(0.5)
        printed = (tmp_path / "dev.out").read_text()
        for url in (f"{origin}/", f"http://127.0.0.1:{ports['ui']}", f"{origin}/api/v1/events/asyncapi"):
            assert url in printed
        assert httpx.get(f"{origin}/api/v1/events/asyncapi.json", timeout=5).json()["channels"]

        # The demo journeys are listed by organisation through Temporal's visibility.
        with sqlite3.connect(data_dir / "platform.db") as db:
            orgs = [row[0] for row in db.execute("SELECT id FROM organisations ORDER BY name")]
        assert len(orgs) == 2
        listed = subprocess.run(
            [
                find_binary("temporal"),
                "workflow",
                "count",
                "--address",
                env["POLKU_TEMPORAL_ADDRESS"],
                "--query",
                f"OrganisationId='{orgs[0]}'",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        assert "Total: 24" in listed.stdout, listed.stdout
        phases = subprocess.run(
            [
                find_binary("temporal"),
                "workflow",
                "count",
                "--address",
                env["POLKU_TEMPORAL_ADDRESS"],
                "--query",
                "JourneyPhase='FOLLOW_ALONG'",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        assert "Total: 0" not in phases.stdout

        # The demo employers, their contact log and openings, as the coordinator sees them.
        token = httpx.post(
            f"{origin}/api/v1/auth/token",
            json={"username": "jari.yrityskoordinaattori", "password": DEMO_PASSWORD},
            timeout=10,
        ).json()["access_token"]
        with httpx.Client(base_url=origin, headers={"Authorization": f"Bearer {token}"}, timeout=10) as http:
            employers = http.get("/api/v1/employers").json()
            assert sorted(e["name"] for e in employers) == sorted(e.name for e in KYMI_EMPLOYERS)
            openings = http.get("/api/v1/openings", params={"status": "open"}).json()
            assert len(openings) == sum(len(e.openings) for e in KYMI_EMPLOYERS)
            assert len(http.get("/api/v1/employer-contacts", params={"employer_id": employers[0]["id"]}).json()) == 2
            # Every demo client has had a first meeting; its notes are not the coordinator's to read.
            clients = http.get("/api/v1/clients").json()
            assert len(clients) == 24
            meetings = http.get(f"/api/v1/clients/{clients[0]['client_id']}/meetings").json()
            assert [(m["notes"], m["notes_withheld"]) for m in meetings] == [(None, True)]
    finally:
        dev.send_signal(signal.SIGINT)
        code = dev.wait(60)
    assert code == 0, (tmp_path / "dev.out").read_text()
    assert _processes_mentioning(str(data_dir)) == []  # temporal and nats-server
    assert [p for p in ports.values() if port_in_use("127.0.0.1", p)] == []  # the web and the servers
    print(f"polku dev healthy after {healthy_after:.1f} s")
