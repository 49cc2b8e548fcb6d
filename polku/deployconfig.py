"""Deployment files generated from the code, so they cannot drift from it.

The reverse proxy. The container deployment puts one Caddy in front of the service
containers. It must send each request where the gateway (``polku.gateway.owner_of``)
would: to the first service with a route matching path and method, else to the first
whose route matches the path only (that service answers 405), else to coaching (the web
UI and its 404 page). ``caddyfile`` writes that decision as one Caddy ``map`` over
``"{method} {path}"``, evaluated top to bottom like ``owner_of``; path patterns are
Starlette's own regular expressions (``compile_path``), which Go's RE2 reads the same way.
``/healthz`` is answered by Caddy itself. ``/readyz`` has no aggregate behind Caddy (the
gateway asks every service; Caddy cannot), so it goes where the table sends it; each
service's own readiness is at ``/readyz/{service}``.

Kubernetes ConfigMaps. ``k8s_configmaps`` embeds the Caddyfile and the files under
``deploy/`` that containers mount in compose (Temporal's scripts and dynamic config, the
OpenTelemetry collector's config), so ``deploy/k8s`` carries no hand-made copies.

``polku deploy proxy-config`` prints ``deploy/caddy/Caddyfile``, ``polku deploy
k8s-configmaps`` prints ``deploy/k8s/configmaps.yaml``; a test checks the committed
files against these, so a new route means regenerating them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from starlette.routing import compile_path

from shared.routes import iter_routes
from shared.settings import SERVICES

FALLBACK = "coaching"
SERVICE_PORT = 8000  # every service container listens here (compose and k8s alike)
INTERNAL_PORT = 8081  # the proxy's listener for the services' own API calls
# Answered by the proxy itself (healthz) or with no aggregate behind Caddy (readyz).
PROXY_OWN_PATHS = frozenset({"/healthz", "/readyz"})
DEPLOY_DIR = Path(__file__).resolve().parents[1] / "deploy"
# ConfigMap name -> (key in the ConfigMap, file under deploy/); the Caddyfile is generated.
K8S_FILES: dict[str, list[tuple[str, str]]] = {
    "polku-proxy": [("Caddyfile", "caddy/Caddyfile")],
    "temporal-scripts": [("schema.sh", "temporal/schema.sh"), ("setup.sh", "temporal/setup.sh")],
    "temporal-dynamicconfig": [("polku.yaml", "temporal/dynamicconfig/polku.yaml")],
    "otel-collector": [("collector.yaml", "otel/collector.yaml")],
}


@dataclass(frozen=True)
class ProxyRule:
    service: str
    pattern: str  # Starlette's anchored regular expression of the route's path
    methods: tuple[str, ...]  # empty: any method (a mount, e.g. /static, or a path-only rule)
    route: str  # the path template, for the reader
    path_only: bool = False  # the path matched, the method did not: that service answers 405


def proxy_rules(apps: Mapping[str, FastAPI]) -> list[ProxyRule]:
    """``owner_of`` as an ordered list: full matches (path and method) in the apps' route
    order, then path-only matches (405 from that service). First match wins."""
    full: list[ProxyRule] = []
    seen: dict[str, set[str]] = {}  # pattern -> methods already routed (anything later is shadowed)
    for name, app in apps.items():
        for info in iter_routes(app):
            if info.path in PROXY_OWN_PATHS:
                continue
            if info.methods:
                pattern = compile_path(info.path)[0].pattern
                methods = tuple(sorted(info.methods))
            else:  # a Mount: every method, anything below the prefix
                pattern = compile_path(info.path.rstrip("/") + "/{path:path}")[0].pattern
                methods = ()
            routed = seen.setdefault(pattern, set())
            if "*" in routed or (methods and set(methods) <= routed):
                continue
            routed.update(methods or ("*",))
            full.append(ProxyRule(name, pattern, methods, info.path))
    partial: list[ProxyRule] = []
    partial_seen: set[str] = set()
    for rule in full:
        if rule.methods and rule.pattern not in partial_seen:
            partial_seen.add(rule.pattern)
            partial.append(ProxyRule(rule.service, rule.pattern, (), rule.route, path_only=True))
    return full + partial


def _map_key(rule: ProxyRule) -> str:
    path = rule.pattern.removeprefix("^").removesuffix("$")
    method = "(?:" + "|".join(rule.methods) + ")" if rule.methods else "[^ ]+"
    return f'"~^{method} {path}$"'


def upstream(service: str) -> str:
    return f"{service}:{SERVICE_PORT}"


def caddyfile(
    rules: Iterable[ProxyRule],
    upstreams: Mapping[str, str] | None = None,
    site: str | None = None,
    internal: str | None = None,
) -> str:
    """The Caddyfile for ``rules``.

    ``upstreams``: service -> host:port (default ``{service}:8000``, the container names).
    ``site``: the public site address (default ``{$CADDY_SITE_ADDRESS::80}``: plain HTTP on
    :80; CADDY_SITE_ADDRESS set to a host name: automatic HTTPS). ``internal``: the
    in-deployment address (default ``:8081``)."""
    rules = list(rules)

    def to(service: str) -> str:
        return (upstreams or {}).get(service, upstream(service))

    lines = [
        "# Generated by `polku deploy proxy-config` from the services' route tables; do not edit.",
        "# Regenerate: .venv/bin/polku deploy proxy-config > deploy/caddy/Caddyfile",
        "# Each request goes where polku.gateway.owner_of sends it (see polku/deployconfig.py).",
        "{",
        "\tadmin off",
        "\tpersist_config off",
        "}",
        "",
        "(polku_routes) {",
        "\troute {",
        "\t\theader /healthz Content-Type application/json",
        '\t\trespond /healthz `{"status":"ok","service":"proxy"}` 200',
        "",
        '\t\tmap "{method} {path}" {polku_upstream} {',
    ]
    for rule in rules:
        what = " ".join(rule.methods) if rule.methods else "any method"
        lines.append(f"\t\t\t# {what} {rule.route}")
        lines.append(f"\t\t\t{_map_key(rule)} {to(rule.service)}")
    lines += [
        f"\t\t\tdefault {to(FALLBACK)}",
        "\t\t}",
        "\t\treverse_proxy {polku_upstream}",
        "\t}",
        "}",
        "",
        "# The public origin. CADDY_SITE_ADDRESS unset: plain HTTP on :80 (TLS ends in front, e.g.",
        "# at the Kubernetes ingress); a host name: Caddy gets and renews its certificate itself.",
        f"{site or '{$CADDY_SITE_ADDRESS::80}'} {{",
        "\timport polku_routes",
        "}",
        "",
        "# The same routes inside the deployment, for the services' calls to each other",
        f"# (POLKU_API_BASE_URL=http://proxy:{INTERNAL_PORT}): plain HTTP, never published.",
        f"{internal or f':{INTERNAL_PORT}'} {{",
        "\timport polku_routes",
        "}",
        "",
    ]
    return "\n".join(lines)


def service_apps() -> dict[str, FastAPI]:
    from polku.gateway import create_service_app

    return {name: create_service_app(name) for name in SERVICES}


def _block(text: str, indent: str) -> str:
    """``text`` as a YAML literal block scalar (tabs stay content: they follow the indent)."""
    chomp = "" if text.endswith("\n") and not text.endswith("\n\n") else "-"
    if text.endswith("\n\n"):
        chomp = "+"
    body = "".join(f"{indent}{line}\n" if line else "\n" for line in text.splitlines())
    return f"|{chomp}\n{body}"


def k8s_configmaps(caddyfile_text: str, deploy_dir: Path = DEPLOY_DIR) -> str:
    """Every ConfigMap of ``deploy/k8s`` that carries a file, as one YAML stream."""
    docs = ["# Generated by `polku deploy k8s-configmaps` from the files under deploy/; do not edit.\n"]
    for name, files in K8S_FILES.items():
        doc = [
            "---",
            "apiVersion: v1",
            "kind: ConfigMap",
            "metadata:",
            f"  name: {name}",
            "  labels:",
            "    app.kubernetes.io/part-of: polku",
            "data:",
        ]
        for key, rel in files:
            text = caddyfile_text if rel == "caddy/Caddyfile" else (deploy_dir / rel).read_text()
            doc.append(f"  {key}: {_block(text, '    ')}".rstrip("\n"))
        docs.append("\n".join(doc) + "\n")
    return "".join(docs)


# The secret settings of a deployment: compose reads them from .env, Kubernetes from the
# Secret polku-secrets (kubectl create secret generic --from-env-file).
SECRET_NAMES: tuple[str, ...] = (
    "POLKU_SECRET_KEY",
    "POLKU_FIELD_KEYS",
    "POLKU_FIELD_KEY_ACTIVE",
    "POLKU_BLIND_INDEX_KEY",
    "POSTGRES_PASSWORD",
    "TEMPORAL_DB_PASSWORD",
)


def secrets_env() -> str:
    """Fresh keys and database passwords, one ``NAME=value`` a line (no quotes: compose and
    ``kubectl --from-env-file`` read it alike)."""
    import base64
    import json
    import secrets
    from datetime import UTC, datetime

    key_id = datetime.now(UTC).strftime("%Y-%m")
    values = {
        "POLKU_SECRET_KEY": secrets.token_urlsafe(48),
        "POLKU_FIELD_KEYS": json.dumps(
            {key_id: base64.b64encode(secrets.token_bytes(32)).decode()}, separators=(",", ":")
        ),
        "POLKU_FIELD_KEY_ACTIVE": key_id,
        "POLKU_BLIND_INDEX_KEY": secrets.token_urlsafe(48),
        "POSTGRES_PASSWORD": secrets.token_urlsafe(24),
        "TEMPORAL_DB_PASSWORD": secrets.token_urlsafe(24),
    }
    assert tuple(values) == SECRET_NAMES
    lines = [
        "# Polku deployment secrets, generated by `polku deploy secrets`. Keep this file out of git.",
        "# Losing POLKU_FIELD_KEYS or POLKU_BLIND_INDEX_KEY makes the stored personal data unreadable.",
        *(f"{name}={value}" for name, value in values.items()),
    ]
    return "\n".join(lines) + "\n"
