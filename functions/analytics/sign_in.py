"""The dashboard's hosted sign-in, as this deployment configures it: served to the page as
the script ``sign-in-config.js`` (from the function's environment, which the template fills
when it creates the user pool), and the one origin the page may fetch tokens from."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from journeys_core.settings import Settings

CONFIG_ASSET = "sign-in-config.js"


def sign_in_config(settings: Settings) -> dict[str, Any] | None:
    """Where to sign in, as which app client, back to where; None when not all three are set
    (the page then takes a pasted token, as with `make run`)."""
    config = {
        "signInUrl": settings.dashboard_sign_in_url,
        "clientId": settings.dashboard_client_id,
        "redirectUri": settings.dashboard_redirect_uri,
    }
    return config if all(config.values()) else None


def config_script(settings: Settings) -> str:
    return f"export default {json.dumps(sign_in_config(settings))};\n"


def token_origins(settings: Settings) -> tuple[str, ...]:
    """The hosted sign-in's origin, which the page's token request goes to."""
    if sign_in_config(settings) is None:
        return ()
    url = urlsplit(settings.dashboard_sign_in_url)
    return (f"{url.scheme}://{url.netloc}",)
