"""What every page of the web app shares: security headers, CSRF tokens, the page frame
(templates/base.html, rendered by templating.render).

CSRF: every form carries a token that is an HMAC (server secret) of what the request is
bound to — the coach's session, the guest's link, or for the login form a random cookie
(double submit). A POST without the matching token is refused with 403.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import HTTPException, Path, Request, Response

from gympulse.dashboards.access import StreamGuard
from gympulse.dashboards.accounts import Accounts
from gympulse.dashboards.consent_shown import ShownJournal, ShownStrength
from gympulse.dashboards.data import Data
from gympulse.dashboards.live import LiveHub
from gympulse.dashboards.sample_rate import SampleRate
from gympulse.dashboards.throttle import LoginThrottle
from gympulse.pipeline.access_log import AccessLog
from gympulse.pipeline.consent import Consents, Policy
from gympulse.pipeline.registry import Registry
from gympulse.pipeline.stores.base import Store
from gympulse.settings import Settings

if TYPE_CHECKING:
    from gympulse.dashboards.morning_pending import Pending

WEB_BUSY_MS = 2000  # how long a web request waits for another process's write lock

# A row id in a path: bounded so an absurd number is a 422, never an SQLite overflow.
RowId = Annotated[int, Path(ge=0, le=2**53)]

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Guest links carry their token in the path: never leak it in a Referer header.
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
        " connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


async def security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.url.path.startswith(
        ("/coach", "/me", "/api/coach", "/api/me", "/live", "/api/live", "/board", "/docs",
         "/redoc", "/openapi.json")
    ):  # fmt: skip
        response.headers["Cache-Control"] = "no-store"
    return response


def csrf_token(secret: bytes, binding: str) -> str:
    return hmac.new(secret, f"csrf:{binding}".encode(), hashlib.sha256).hexdigest()


def check_csrf(secret: bytes, binding: str, submitted: str | None) -> None:
    expected = csrf_token(secret, binding).encode()
    if not submitted or not hmac.compare_digest(expected, submitted.encode()):
        raise HTTPException(status_code=403, detail="invalid or missing CSRF token")


class AppContext:
    """What the routers share, kept on ``app.state.ctx``."""

    def __init__(
        self,
        *,
        hub: LiveHub,
        registry: Registry,
        store: Store,
        secret: bytes,
        site: str,
        settings: Settings | None = None,
    ) -> None:
        self.settings = settings or Settings(site=site)
        self.consent_policy = Policy.of(self.settings.consent)
        self.hub = hub
        self.registry = registry
        self.store = store  # opened and closed by the app's lifespan (Data.open_store)
        self.secret = secret
        self.site = site
        self.throttle = LoginThrottle()
        # One argon2 check at a time (each takes ~50 ms of CPU and 64 MB): parallel password
        # guessers queue up here instead of taking both cores from everyone else.
        self.password_checks = asyncio.Semaphore(1)
        self.guard = StreamGuard(self)
        # Readings a guest or coach has started and not yet finished (morning_pending).
        self.pending: dict[str, Pending] = {}
        # Web Bluetooth samples: each guest's token bucket (sample_rate), and the app's
        # one ingestion service for them with the lock its posts take turns on (morning).
        self.sample_rate = SampleRate()
        self.web_ingest: Any = None
        self.web_ingest_lock: asyncio.Lock | None = None
        self._open = False
        self.open()

    def open(self) -> None:
        """(Re)open the SQLite connections (the app's owner closes them with close())."""
        if not self._open:
            path = self.registry.path
            self.accounts = Accounts(path)
            # Every read of a person's data keeps only what she consents to now
            # (docs/privacy.md, "Consent"): the store's tables, the journal, the strength log.
            self.data = Data(self.store, path, policy=self.consent_policy)
            self.data.tz = self.settings.timezone  # CSV exports: local times
            self.journal = ShownJournal(path, policy=self.consent_policy)
            self.strength = ShownStrength(path, policy=self.consent_policy)
            self.consents = Consents(path)  # consent per domain (pipeline/consent.py)
            self.access_log = AccessLog(path)  # who looked at whose data
            # A short busy timeout: a database another process holds locked answers "try
            # again" (503) after a moment instead of keeping a worker thread for 30 s.
            for db in (
                self.accounts, self.data.db, self.journal, self.registry, self.strength,
                self.consents, self.access_log,
            ):  # fmt: skip
                db.busy_ms = WEB_BUSY_MS
            self._open = True

    def close(self) -> None:
        if self._open:
            self.accounts.close()
            self.data.close()
            self.journal.close()
            self.strength.close()
            self.consents.close()
            self.access_log.close()
            self._open = False


def over_https(request: Request) -> bool:
    """Whether this request reached the site over HTTPS — directly, or through the trusted
    proxy (``web.trusted_proxies``: only its X-Forwarded-Proto is believed). Cookies set on
    such a request are ``Secure``: the browser never sends them over plain HTTP."""
    return request.url.scheme == "https"


def public_base(request: Request) -> str:
    """Where guests and TVs reach this server, for the links handed to them: the setting
    ``web.public_url`` (the HTTPS address of the site's proxy), else the address this
    request came to (its scheme as the trusted proxy says: ``web.trusted_proxies``)."""
    public: str = ctx_of(request).settings.web.public_url.rstrip("/")
    return public or str(request.base_url).rstrip("/")


def ctx_of(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def site_zone(request: Request) -> dt.tzinfo:
    """The site's time zone (settings ``timezone``, an IANA name)."""
    name = ctx_of(request).settings.timezone
    return dt.UTC if name == "UTC" else ZoneInfo(name)
