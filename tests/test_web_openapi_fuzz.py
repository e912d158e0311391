"""Every operation of the OpenAPI schema in it is fuzzed with schemathesis (in
process, over ASGI), anonymously and as a logged-in coach: no request makes a 5xx.
The SSE streams never end by design, so they are left out of the fuzz (their behaviour is
tested against a real server in the browser tests)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from gympulse.dashboards.accounts import Accounts
from gympulse.dashboards.app import create_app
from gympulse.dashboards.live import LiveHub
from gympulse.pipeline.registry import Registry
from gympulse.settings import Settings, StoreSettings
from tests.support.web import SITE, guest_token, seed_history

# Built at import: schemathesis reads the schema when the module is collected.
_DB = Path(tempfile.mkdtemp(prefix="gympulse-fuzz-")) / "gympulse.db"
_SEEDED = seed_history(_DB)
_SETTINGS = Settings(site=SITE, store=StoreSettings(path=str(_DB)))
_REGISTRY = Registry(_DB)
APP = create_app(_SETTINGS, _REGISTRY, LiveHub(_SETTINGS, _REGISTRY))
_accounts = Accounts(_DB)
(_user,) = [u for u in _accounts.users() if u.username == _SEEDED.coach_user]
COACH_COOKIE = f"gp_session={_accounts.start_session(_user)}"
_accounts.close()
GUEST_TOKEN = guest_token(_DB, _SEEDED.athletes["Alice"])

# The schema itself is for the coach only (/openapi.json needs a login): read it from the app.
schema = schemathesis.openapi.from_dict(APP.openapi()).exclude(path_regex=r".*/stream$")
FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(APP, follow_redirects=False, raise_server_exceptions=False) as c:
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
def test_no_server_errors_as_coach(client: TestClient, case: schemathesis.Case[Any]) -> None:
    response = _call(client, case, COACH_COOKIE)
    assert response.status_code < 500, (case.method, case.formatted_path, response.text)


@schema.parametrize()
@FUZZ
def test_no_server_errors_with_a_real_guest_token(
    client: TestClient, case: schemathesis.Case[Any]
) -> None:
    if case.path_parameters and "token" in case.path_parameters:
        case.path_parameters["token"] = GUEST_TOKEN
    response = _call(client, case)
    assert response.status_code < 500, (case.method, case.formatted_path, response.text)
