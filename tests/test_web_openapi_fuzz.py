"""Every operation of the OpenAPI schema in it is fuzzed with schemathesis (in
process, over ASGI), anonymously and as a logged-in coach: no request makes a 5xx.
The SSE streams never end by design, so they are left out of the fuzz (their behaviour is
tested against a real server in the browser tests)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from gympulse.dashboards.accounts import Accounts
from gympulse.dashboards.app import create_app
from gympulse.dashboards.live import LiveHub
from gympulse.pipeline.registry import Registry
from gympulse.settings import Settings, StoreSettings
from tests.support.web import SITE, guest_token, seed_history


@dataclass(frozen=True)
class Fuzzed:
    """The app under fuzz on a seeded database in the session's temp dir."""

    app: FastAPI
    coach_cookie: str
    guest_token: str


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    db = tmp_path_factory.mktemp("fuzz") / "gympulse.db"
    seeded = seed_history(db)
    settings_ = Settings(site=SITE, store=StoreSettings(path=str(db)))
    registry = Registry(db)
    accounts = Accounts(db)
    try:
        (user,) = [u for u in accounts.users() if u.username == seeded.coach_user]
        cookie = f"gp_session={accounts.start_session(user)}"
    finally:
        accounts.close()
    app = create_app(settings_, registry, LiveHub(settings_, registry))
    yield Fuzzed(app, cookie, guest_token(db, seeded.athletes["Alice"]))
    registry.close()


def _openapi() -> dict[str, Any]:
    """The app's schema (/openapi.json needs a coach login: read it from the app). Taken
    at import, since schemathesis parametrizes at collection, from an app on an empty
    database in a temp dir that is removed at once."""
    with tempfile.TemporaryDirectory(prefix="gympulse-fuzz-") as tmp:
        settings_ = Settings(site=SITE, store=StoreSettings(path=f"{tmp}/gympulse.db"))
        registry = Registry(settings_.store.path)
        try:
            return create_app(settings_, registry, LiveHub(settings_, registry)).openapi()
        finally:
            registry.close()


schema = schemathesis.openapi.from_dict(_openapi()).exclude(path_regex=r".*/stream$")
FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def client(fuzzed: Fuzzed) -> Iterator[TestClient]:
    with TestClient(fuzzed.app, follow_redirects=False, raise_server_exceptions=False) as c:
        yield c


def _call(client: TestClient, case: schemathesis.Case[Any], cookie: str = "") -> httpx.Response:
    """Send the generated request through Starlette's test client (in process)."""
    headers = {k: str(v) for k, v in (case.headers or {}).items()}
    if cookie:
        headers["Cookie"] = cookie
    kwargs: dict[str, Any] = {}
    if isinstance(case.body, bytes):  # a raw body (schemathesis sends some JSON as bytes)
        kwargs["content"] = case.body
    elif case.media_type and "json" in case.media_type:
        kwargs["json"] = case.body
    elif case.body is not None and isinstance(case.body, dict):
        kwargs["data"] = {k: str(v) for k, v in case.body.items()}
    response: httpx.Response = client.request(
        case.method, case.formatted_path, params=case.query, headers=headers, **kwargs
    )
    return response


@schema.parametrize()
@FUZZ
def test_no_server_errors_anonymous(client: TestClient, case: schemathesis.Case[Any]) -> None:
    response = _call(client, case)
    assert response.status_code < 500, (case.method, case.formatted_path, response.text)


@schema.parametrize()
@FUZZ
def test_no_server_errors_as_coach(
    client: TestClient, fuzzed: Fuzzed, case: schemathesis.Case[Any]
) -> None:
    response = _call(client, case, fuzzed.coach_cookie)
    assert response.status_code < 500, (case.method, case.formatted_path, response.text)


@schema.parametrize()
@FUZZ
def test_no_server_errors_with_a_real_guest_token(
    client: TestClient, fuzzed: Fuzzed, case: schemathesis.Case[Any]
) -> None:
    if case.path_parameters and "token" in case.path_parameters:
        case.path_parameters["token"] = fuzzed.guest_token
    response = _call(client, case)
    assert response.status_code < 500, (case.method, case.formatted_path, response.text)
