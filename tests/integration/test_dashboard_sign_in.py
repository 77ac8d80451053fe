"""The dashboard's hosted sign-in as the analytics function serves it: configured from the
function's environment (which the template fills when it creates the user pool), or absent,
and the page may then fetch tokens from the sign-in's origin, and from nowhere else."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from journeys_core.settings import get_settings
from tests.conftest import ApiResult, invoke
from tests.support.events import dashboard_event

HOSTED = {
    "DASHBOARD_SIGN_IN_URL": "https://journeys-prod-123456789012.auth.eu-west-1.amazoncognito.com",
    "DASHBOARD_CLIENT_ID": "4k1dashboardclient",
    "DASHBOARD_REDIRECT_URI": "https://abc123.execute-api.eu-west-1.amazonaws.com/dashboard",
}


@pytest.fixture
def deployed_with_hosted_sign_in(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in HOSTED.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def dashboard(asset: str | None = None) -> ApiResult:
    return invoke("analytics", dashboard_event(asset))


def served_config() -> object:
    script = dashboard("sign-in-config.js")
    assert script.status == 200
    assert script.headers["Content-Type"].startswith("text/javascript")
    prefix = "export default "
    assert script.body.startswith(prefix)
    return json.loads(script.body.removeprefix(prefix).strip().removesuffix(";"))


@pytest.mark.usefixtures("deployed_with_hosted_sign_in")
def test_a_deployment_with_a_user_pool_offers_its_hosted_sign_in() -> None:
    assert served_config() == {
        "signInUrl": HOSTED["DASHBOARD_SIGN_IN_URL"],
        "clientId": HOSTED["DASHBOARD_CLIENT_ID"],
        "redirectUri": HOSTED["DASHBOARD_REDIRECT_URI"],
    }
    policy = dashboard().headers["Content-Security-Policy"]
    assert f"connect-src 'self' {HOSTED['DASHBOARD_SIGN_IN_URL']};" in policy


def test_without_a_hosted_sign_in_the_page_takes_a_pasted_token_and_talks_to_itself() -> None:
    get_settings.cache_clear()

    assert served_config() is None
    assert "connect-src 'self';" in dashboard().headers["Content-Security-Policy"]


def test_the_sign_in_module_is_served_and_holds_no_secret() -> None:
    module = dashboard("signin.js")

    assert module.status == 200
    assert 'code_challenge_method: "S256"' in module.body
    assert "client_secret" not in module.body
