from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from shared.security import SecurityHeaders


def _app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(SecurityHeaders)

    @app.get("/page")
    def page() -> dict[str, str]:
        return {"ok": "yes"}

    return app


def test_strict_csp_and_frame_denial_on_every_response() -> None:
    with TestClient(_app()) as client:
        for path in ("/page", "/missing"):
            r = client.get(path)
            csp = r.headers["content-security-policy"]
            assert "script-src 'self';" in csp and "unsafe-inline" not in csp
            assert "frame-ancestors 'none'" in csp
            assert r.headers["x-frame-options"] == "DENY"
            assert r.headers["x-content-type-options"] == "nosniff"
            assert "strict-transport-security" not in r.headers


def test_hsts_only_over_https() -> None:
    with TestClient(_app(), base_url="https://polku.example") as client:
        assert client.get("/page").headers["strict-transport-security"].startswith("max-age=")
    with TestClient(_app()) as client:
        r = client.get("/page", headers={"x-forwarded-proto": "https"})
        assert "strict-transport-security" in r.headers
