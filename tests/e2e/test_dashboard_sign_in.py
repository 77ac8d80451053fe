"""The dashboard's hosted sign-in in Chromium against the local stack, with the sign-in
server played by the test (as Cognito's hosted UI would answer): the page sends the user
there with a PKCE challenge and no secret, exchanges the code it gets back with the matching
verifier, works with the ID token, and signs out there too."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from functions.analytics.static_assets import content_security_policy
from local_stack.tokens import make_token
from tests.e2e import test_dashboard
from tests.e2e.conftest import LocalStack

SIGN_IN = "https://signin.journeys.test"
CLIENT_ID = "dashboard-client"
CODE = "code-from-the-hosted-sign-in"
# The browser and a fresh tab (screenshots on failure) of the dashboard's browser tests.
browser, page = test_dashboard.browser, test_dashboard.page


def _query(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def _send_back(route: Any, url: str) -> None:
    """A page that goes on to ``url`` (a fresh navigation, which the test's routes see; a
    redirect's next request would slip past them)."""
    page = f'<meta http-equiv="refresh" content="0;url={html.escape(url)}">'
    route.fulfill(status=200, content_type="text/html", body=page)


class HostedSignIn:
    """The sign-in server: remembers the challenge it was sent and gives a token only for the
    verifier that matches it."""

    def __init__(self, dashboard_url: str, origin: str) -> None:
        self.dashboard_url = dashboard_url
        self.origin = origin
        self.authorize: dict[str, str] = {}
        self.token_requests: list[dict[str, str]] = []
        self.logouts: list[dict[str, str]] = []

    def on_authorize(self, route: Any) -> None:
        self.authorize = _query(route.request.url)
        back = {"code": CODE, "state": self.authorize["state"]}
        _send_back(route, f"{self.dashboard_url}?{urlencode(back)}")

    def on_token(self, route: Any) -> None:
        form = {key: values[0] for key, values in parse_qs(route.request.post_data).items()}
        self.token_requests.append(form)
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).decode().rstrip("=")
        valid = form.get("code") == CODE and challenge == self.authorize["code_challenge"]
        body = {"id_token": make_token(org="demo", roles=("staff",), sub="dr-hosted")}
        route.fulfill(
            status=200 if valid else 400,
            content_type="application/json",
            headers={"Access-Control-Allow-Origin": self.origin},
            body=json.dumps(body if valid else {"error": "invalid_grant"}),
        )

    def on_logout(self, route: Any) -> None:
        self.logouts.append(_query(route.request.url))
        _send_back(route, self.logouts[-1]["logout_uri"])


def deployed_with_hosted_sign_in(page: Any, stack: LocalStack) -> HostedSignIn:
    """The page as the analytics function serves it with a user pool: the sign-in's settings
    in sign-in-config.js and its origin in the page's connect-src."""
    dashboard_url = f"{stack.base_url}/dashboard"
    server = HostedSignIn(dashboard_url, stack.base_url)
    config = {"signInUrl": SIGN_IN, "clientId": CLIENT_ID, "redirectUri": dashboard_url}

    def config_script(route: Any) -> None:
        body = f"export default {json.dumps(config)};\n"
        route.fulfill(status=200, content_type="text/javascript", body=body)

    def page_with_policy(route: Any) -> None:
        response = route.fetch()
        policy = content_security_policy((SIGN_IN,))
        route.fulfill(
            response=response,
            headers={**response.headers, "content-security-policy": policy},
        )

    page.route("**/dashboard/sign-in-config.js", config_script)
    page.route(re.compile(r"/dashboard(\?[^/]*)?$"), page_with_policy)
    page.route(f"{SIGN_IN}/oauth2/authorize?*", server.on_authorize)
    page.route(f"{SIGN_IN}/oauth2/token", server.on_token)
    page.route(f"{SIGN_IN}/logout?*", server.on_logout)
    return server


def test_staff_sign_in_through_the_hosted_sign_in_with_pkce_and_out_again(
    page: Any, local_stack: LocalStack
) -> None:
    from playwright.sync_api import expect

    # Given the dashboard of a deployment with a user pool
    server = deployed_with_hosted_sign_in(page, local_stack)
    page.goto(f"{local_stack.base_url}/dashboard")

    # When staff choose the hosted sign-in (the token paste is still offered)
    expect(page.get_by_label("Access token (JWT)")).to_be_visible()
    page.get_by_role("button", name="Sign in with your account").click()

    # Then they are signed in with the ID token the code was exchanged for
    expect(page.get_by_role("heading", name="Active journeys")).to_be_visible()
    expect(page.locator("#session-who")).to_contain_text("dr-hosted")
    assert page.url == f"{local_stack.base_url}/dashboard"  # the code is gone from the address
    # And the sign-in was asked for a code with an S256 challenge, as this client, no secret
    assert server.authorize["response_type"] == "code"
    assert server.authorize["code_challenge_method"] == "S256"
    assert server.authorize["client_id"] == CLIENT_ID
    assert server.authorize["redirect_uri"] == f"{local_stack.base_url}/dashboard"
    (exchange,) = server.token_requests
    assert exchange["grant_type"] == "authorization_code"
    assert "client_secret" not in exchange

    # When they sign out
    page.get_by_role("button", name="Sign out").click()

    # Then the hosted sign-in ends its session too, and the page asks to sign in again
    expect(page.get_by_role("button", name="Sign in with your account")).to_be_visible()
    assert server.logouts == [
        {"client_id": CLIENT_ID, "logout_uri": f"{local_stack.base_url}/dashboard"}
    ]
    assert page.evaluate("sessionStorage.getItem('journeys.dashboard.token')") is None
