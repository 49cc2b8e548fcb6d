"""The route table of a FastAPI app, flattened (included routers resolved), with what each
route declares about its callers: the roles of ``shared.auth.requires`` /
``shared.auth.page_roles`` (or a dependency marked with ``declare_roles``), or
``shared.auth.PUBLIC``. FastAPI's own schema and docs routes and static file mounts are
public by nature."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from shared.contracts.journey import Role


@dataclass(frozen=True)
class RouteInfo:
    path: str
    methods: frozenset[str]
    roles: frozenset[Role] | None  # None: the route declares no role requirement
    endpoint: Any
    public: bool = False  # declared open to anyone (no login)
    page: bool = False  # a web page (HTML), not part of the API

    @property
    def declared(self) -> bool:
        return self.public or self.roles is not None


def _find(dependant: Any, attr: str) -> Any:
    if dependant is None:
        return None
    for dep in dependant.dependencies:
        value = getattr(dep.call, attr, None)
        if value is not None:
            return value
        nested = _find(dep, attr)
        if nested is not None:
            return nested
    return None


def _roles(dependant: Any) -> frozenset[Role] | None:
    roles = _find(dependant, "__polku_roles__")
    return None if roles is None else frozenset(roles)


def _framework_paths(app: FastAPI) -> set[str]:
    return {p for p in (app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url) if p}


def iter_routes(app: FastAPI) -> Iterator[RouteInfo]:
    framework = _framework_paths(app)
    for route in app.router.routes:
        # FastAPI >= 0.16x keeps included routers as one lazy entry each.
        contexts = getattr(route, "effective_route_contexts", None)
        candidates = list(contexts()) if contexts is not None else [route]
        for r in candidates:
            path = getattr(r, "path", None)
            if not path:
                continue
            dependant = getattr(r, "dependant", None)
            static = isinstance(r, Mount) and isinstance(r.app, StaticFiles)
            yield RouteInfo(
                path=path,
                methods=frozenset(getattr(r, "methods", None) or ()),
                roles=_roles(dependant),
                endpoint=getattr(r, "endpoint", None),
                public=static or path in framework or bool(_find(dependant, "__polku_public__")),
                page=not (path == "/api" or path.startswith("/api/")),
            )
