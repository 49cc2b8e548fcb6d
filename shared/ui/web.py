"""Page plumbing for services that serve pages in the common web UI besides coaching
(which has its own copy in ``services/coaching/pages.py``): the logged-in user from the
session cookie, CSRF on forms, rendering with the shared header, HTML error pages.

Login, logout and the language switch stay with coaching; these pages only read the
session cookie it sets.
"""

from __future__ import annotations

import hmac
import inspect
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared import auth
from shared.auth import CSRF_FIELD, Principal
from shared.contracts.journey import Role
from shared.i18n import N_, negotiate, translator
from shared.identity import Account
from shared.problems import ProblemError
from shared.service import ctx_of
from shared.ui import nav_for

EnvFor = Callable[[str], Environment]  # language -> the service's template environment


class LoginRequired(Exception):
    """Raised by ``page_user``; answered with a redirect to the login page."""


@dataclass(frozen=True)
class PageUser:
    principal: Principal
    account: Account

    @property
    def id(self) -> uuid.UUID:
        return self.account.id

    @property
    def role(self) -> Role:
        return self.account.role

    @property
    def name(self) -> str:
        return self.account.display_name or self.account.username

    @property
    def csrf(self) -> str:
        return self.principal.csrf or ""


async def session_principal(request: Request) -> Principal | None:
    """The session of the cookie; None when missing, expired, invalid or ended by a logout."""
    return await auth.session_principal(request)


async def page_user(request: Request) -> PageUser:
    principal = await session_principal(request)
    if principal is None:
        raise LoginRequired()
    account = await ctx_of(request).identity.account(principal.user_id)
    if account is None:  # deactivated since the session began
        raise LoginRequired()
    return PageUser(principal, account)


CurrentUser = Annotated[PageUser, Depends(page_user)]


def here(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def render(
    request: Request,
    env_for: EnvFor,
    template: str,
    *,
    user: PageUser | None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A page in the request's language with the shared header, nav and CSRF token."""
    lang = negotiate(request)
    html = (
        env_for(lang)
        .get_template(template)
        .render(
            user=user,
            csrf_token=user.csrf if user else None,
            csrf_field=CSRF_FIELD,
            nav=nav_for(user.role if user else None),
            path=request.url.path,
            here=here(request),
            **context,
        )
    )
    return HTMLResponse(
        html,
        status_code=status,
        # Pages carry personal data: never cache them, nor serve one language's copy to another.
        headers={"Cache-Control": "no-store", "Content-Language": lang, "Vary": "Cookie, Accept-Language"},
    )


def error_page(
    request: Request, env_for: EnvFor, status: int, title: str, message: str, *, user: PageUser | None = None
) -> HTMLResponse:
    """An HTML error page; ``title`` and ``message`` are msgids translated here."""
    _ = translator(negotiate(request)).gettext
    return render(request, env_for, "error.html", user=user, status=status, title=_(title), message=_(message))


def forbidden_page(request: Request, env_for: EnvFor, user: PageUser) -> HTMLResponse:
    message = N_("Your role does not give access to this page.")
    return error_page(request, env_for, 403, N_("Not allowed"), message, user=user)


def csrf_ok(user: PageUser, submitted: object) -> bool:
    return bool(user.csrf) and isinstance(submitted, str) and hmac.compare_digest(user.csrf, submitted)


def login_redirect(request: Request) -> Response:
    target = "/login"
    if request.method in ("GET", "HEAD"):
        target += "?next=" + quote(here(request), safe="/")
    if request.headers.get("hx-request") == "true":
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


_PAGES: dict[int, tuple[str, str]] = {
    400: (N_("Bad request"), N_("The request could not be understood.")),
    403: (N_("Not allowed"), N_("The form has expired or you may not do this. Reload the page and try again.")),
    404: (N_("Page not found"), N_("There is no page at this address.")),
    405: (N_("Not allowed"), N_("This address does not accept that kind of request.")),
    503: (N_("Service unavailable"), N_("Part of the service did not answer. Please try again in a moment.")),
}

_Handler = Callable[[Request, Any], Response | Awaitable[Response]]


def install(app: FastAPI, env_for: EnvFor) -> None:
    """Answer errors on page paths with HTML pages; ``/api/...`` keeps problem+json.
    Call after the problem handlers are installed (``build_service_app(setup=...)``)."""

    def page_for(request: Request, status: int) -> HTMLResponse:
        title, message = _PAGES.get(
            status, (N_("Something went wrong"), N_("The request could not be completed. Please try again."))
        )
        return error_page(request, env_for, status, title, message)

    def wrap(previous: _Handler | None) -> Callable[[Request, Any], Awaitable[Response]]:
        async def handle(request: Request, exc: Any) -> Response:
            path = request.url.path
            if path == "/api" or path.startswith("/api/"):
                if previous is None:
                    return JSONResponse({"title": "Error"}, status_code=500)
                answer = previous(request, exc)
                return await answer if inspect.isawaitable(answer) else answer
            if isinstance(exc, ProblemError):
                return login_redirect(request) if exc.status == 401 else page_for(request, exc.status)
            if isinstance(exc, StarletteHTTPException):
                return page_for(request, exc.status_code)
            return page_for(request, 400)

        return handle

    for cls in (ProblemError, StarletteHTTPException, RequestValidationError):
        app.add_exception_handler(cls, wrap(app.exception_handlers.get(cls)))

    async def on_login_required(request: Request, _exc: Exception) -> Response:
        return login_redirect(request)

    app.add_exception_handler(LoginRequired, on_login_required)
