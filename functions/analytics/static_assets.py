"""Static files a function serves from its own folder (the staff dashboard's page, scripts and
styles): only names that match a fixed pattern, read once per warm container, with headers
that keep the page to its own origin (no CDN, no inline script, no framing)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from aws_lambda_powertools.event_handler import Response

from journeys_core.errors import NotFound

# Plain names only (no folders, no dots but the extension): nothing outside the folder.
_ASSET_NAME = re.compile(r"[a-z][a-z0-9-]{0,62}\.(js|css|html)")
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}


def content_security_policy(connect_origins: tuple[str, ...] = ()) -> str:
    """Everything the page loads comes from this origin; data goes to this origin's API only,
    and tokens come from ``connect_origins`` (the hosted sign-in's token endpoint)."""
    connect = " ".join(("'self'", *connect_origins))
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src {connect}; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )


class StaticAssets:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @cache  # noqa: B019 - one instance per function, for the container's lifetime
    def _read(self, name: str) -> str:
        path = self.folder / name
        if path.parent != self.folder or not path.is_file():
            raise NotFound(f"no such file: {name}")
        return path.read_text(encoding="utf-8")

    def response(
        self, name: str, body: str | None = None, connect_origins: tuple[str, ...] = ()
    ) -> Response[str]:
        """The file (or ``body``, made for this deployment) as a 200 answer; NotFound (404)
        for any other name."""
        if not _ASSET_NAME.fullmatch(name):
            raise NotFound(f"no such file: {name}")
        suffix = Path(name).suffix
        return Response(
            status_code=200,
            content_type=CONTENT_TYPES[suffix],
            body=self._read(name) if body is None else body,
            headers={
                "Cache-Control": "no-cache",
                "Content-Security-Policy": content_security_policy(connect_origins),
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
            },
        )
