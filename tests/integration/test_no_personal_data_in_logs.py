"""No personal data in logs, spans or URLs.

A stack of its own (web processes and the journey worker) runs with every logger at DEBUG
and exports its spans by OTLP/HTTP to a collector in this test. A full scenario (a
referral with free text, its acceptance, a self-registration with an identity code, phone
and e-mail, searches by identity code and name, journey moves and a milestone, the pages
a coach opens) runs through it; then every log line, span name, span attribute, event
and resource attribute is searched for the scenario's names, identity codes, phone
numbers, e-mail addresses and free text."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from polku.devstack import free_port
from services.intake.hetu import check_character
from shared.contracts.journey import Role
from shared.settings import Settings
from tests.conftest import Live, Servers, _wait_ready


@dataclass
class Collector:
    """An OTLP/HTTP trace receiver: every span as (service, text of its name and attributes)."""

    spans: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        with self.lock:
            for resource_spans in request.resource_spans:
                resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
                service = str(resource.get("service.name", "?"))
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        parts = [span.name, repr(resource)]
                        parts += [f"{a.key}={_value(a.value)}" for a in span.attributes]
                        for event in span.events:
                            parts.append(event.name)
                            parts += [f"{a.key}={_value(a.value)}" for a in event.attributes]
                        self.spans.append((service, "\n".join(parts)))


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind) if kind else None


@pytest.fixture(scope="module")
def collector() -> Iterator[tuple[Collector, str]]:
    found = Collector()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            if self.path.endswith("/v1/traces"):
                found.take(body)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield found, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


@dataclass
class Stack:
    live: Live
    procs: list[subprocess.Popen[bytes]]

    def stop(self) -> None:
        """SIGTERM, as in production: the processes flush their spans on the way out."""
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()


@pytest.fixture(scope="module")
def stack(
    real_servers: Servers, collector: tuple[Collector, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("polku-pii")
    port = free_port()
    env = {
        **os.environ,
        "POLKU_DATA_DIR": str(data_dir),
        "POLKU_HTTP_PORT": str(port),
        "POLKU_TEMPORAL_ADDRESS": real_servers.temporal_address,
        "POLKU_NATS_URL": real_servers.nats_url,
        "POLKU_COOKIE_SECURE": "false",
        "POLKU_TEMPORAL_TASK_QUEUE": f"polku-pii-{uuid.uuid4().hex[:8]}",
        "POLKU_LOG_LEVEL": "DEBUG",
        "POLKU_OTLP_ENDPOINT": collector[1],
        "OTEL_BSP_SCHEDULE_DELAY": "500",
    }
    settings = Settings(
        data_dir=data_dir,
        http_port=port,
        temporal_address=real_servers.temporal_address,
        nats_url=real_servers.nats_url,
        temporal_task_queue=env["POLKU_TEMPORAL_TASK_QUEUE"],
    )
    subprocess.run([sys.executable, "-m", "polku", "migrate"], env=env, check=True, capture_output=True)
    logs = data_dir / "logs"
    logs.mkdir()
    procs: list[subprocess.Popen[bytes]] = []
    for name, args in (("web", ["serve", "all"]), ("worker", ["worker"])):
        out = (logs / f"{name}.log").open("wb")
        procs.append(subprocess.Popen([sys.executable, "-m", "polku", *args], env=env, stdout=out, stderr=out))
    found = Stack(Live(base_url=f"http://127.0.0.1:{port}", settings=settings, env=env, logs=logs), procs)
    try:
        _wait_ready(found.live.base_url, procs, logs)
        yield found
    finally:
        found.stop()


def _letters(n: int) -> str:
    return "".join(chr(ord("a") + b % 26) for b in uuid.uuid4().bytes[:n])


def _hetu(day: date, individual: int) -> str:
    digits = f"{day:%d%m%y}{individual:03d}"
    return f"{day:%d%m%y}-{individual:03d}{check_character(digits)}"


@dataclass
class Person:
    first: str
    last: str
    hetu: str
    phone: str
    email: str

    @property
    def needles(self) -> list[str]:
        return [self.first, self.last, self.hetu, self.phone, self.email]


def _person() -> Person:
    tag = _letters(6)
    digits = "".join(str(b % 10) for b in uuid.uuid4().bytes[:7])
    return Person(
        first=f"Ilmatar{tag}".capitalize(),
        last=f"Vuorenvarsi{_letters(6)}".capitalize(),
        hetu=_hetu(date(1985, 3, 15), 100 + uuid.uuid4().int % 800),
        phone=f"+35840{digits}",
        email=f"{tag}.{_letters(5)}@example.fi",
    )


def _scenario(live: Live) -> tuple[list[str], list[str]]:
    """Everything a coach does with two clients: the personal data it used, the client ids."""
    org = live.add_org()
    coach_id = str(org.users[Role.COACH.value])
    referred, registered = _person(), _person()
    background = f"Taustatieto {_letters(8)} masennus"
    with live.http(live.username(org, Role.COACH)) as http:
        r = http.post(
            "/api/v1/referrals",
            json={
                "referrer_type": "social_services",
                "referrer_organisation": "Kotkan sosiaalitoimi",
                "referred_on": date.today().isoformat(),
                "wants_open_employment": True,
                "first_name": referred.first,
                "last_name": referred.last,
                "background": background,
            },
        )
        assert r.status_code == 201, r.text
        referral_id = r.json()["referral_id"]
        r = http.post(
            f"/api/v1/referrals/{referral_id}/accept",
            json={
                "coach_id": coach_id,
                "client": {
                    "first_name": referred.first,
                    "last_name": referred.last,
                    "personal_identity_code": referred.hetu,
                    "phone": referred.phone,
                    "email": referred.email,
                },
                "consent": {"processing": True},
            },
        )
        assert r.status_code in (200, 201), r.text
        first_id = r.json()["client_id"]
        second_id = live.register_client(
            org,
            registered.first,
            registered.last,
            personal_identity_code=registered.hetu,
            phone=registered.phone,
            email=registered.email,
            municipality="Kotka",
        )["client_id"]
        for query in (registered.hetu, referred.last, registered.first):
            r = http.post("/api/v1/clients/search", json={"query": query, "purpose": "asiakkaan tunnistus"})
            assert r.status_code == 200 and r.json(), r.text
        for client_id in (first_id, second_id):
            assert http.get(f"/api/v1/clients/{client_id}").status_code == 200
            r = http.post(f"/api/v1/journeys/{client_id}/moves", json={"action": "advance"})
            assert r.status_code < 300, r.text
            r = http.post(
                f"/api/v1/journeys/{client_id}/milestones",
                json={"kind": "contact_made", "occurred_at": "2026-01-05T10:00:00Z", "place": "office"},
            )
            assert r.status_code < 300, r.text
            assert http.get(f"/api/v1/journeys/{client_id}/timeline").status_code == 200
        # A wrong search and a wrong identity code are refused: their text must not be logged either.
        r = http.post("/api/v1/clients", json={"first_name": referred.first, "last_name": "", "coach_id": coach_id})
        assert r.status_code == 422
    with closing(live.browser_session(org, Role.COACH)) as coach:
        for path in ("/", f"/clients/{first_id}", f"/clients/{second_id}", f"/clients/{second_id}/details"):
            page = coach.get(path)
            assert page.status_code == 200, (path, page.text[:300])
        assert registered.last in coach.get("/").text  # the scenario did show the names
    return [*referred.needles, *registered.needles, background], [first_id, second_id]


def test_no_personal_data_in_logs_or_spans(stack: Stack, collector: tuple[Collector, str]) -> None:
    needles, client_ids = _scenario(stack.live)
    time.sleep(3)  # the workflow's activities and the event consumers run after the answers
    stack.stop()  # flushes the span exporters

    spans = collector[0].spans
    services = {service for service, _ in spans}
    # One process serves every API (the first service names its tracer), one runs the worker.
    assert "polku-worker" in services and len(services) >= 2, services
    assert any("/api/v1/journeys/{client_id}" in text for _, text in spans), "no coaching spans"
    assert any("/api/v1/clients/search" in text for _, text in spans), "no intake spans"
    # The search below does see URLs: the client ids (not personal data) are in them.
    assert all(any(cid in text for _, text in spans) for cid in client_ids), "no URLs in the spans"
    logs = {path.name: path.read_text(errors="replace") for path in Path(stack.live.logs).glob("*.log")}
    assert sum(text.count("DEBUG") for text in logs.values()) > 0, "no DEBUG lines: the level did not apply"

    leaks: list[str] = []
    for needle in needles:
        low = needle.lower()
        for name, text in logs.items():
            for line in text.splitlines():
                if low in line.lower():
                    leaks.append(f"log {name}: {line[:300]}")
        for service, text in spans:
            if low in text.lower():
                leaks.append(f"span of {service}: {text[:600]}")
    assert not leaks, f"{len(leaks)} leaks of personal data:\n" + "\n".join(leaks[:40])
