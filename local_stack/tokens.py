"""Development JWTs that the local gateway's JWT authorizer accepts.

``python -m local_stack.tokens --org demo --roles admin,staff`` prints one token.

The tokens look like Cognito ID tokens (``sub``, ``custom:org_id``, ``cognito:groups``) but are
HS256-signed with a local secret: they are worthless against a deployed API, on purpose.
"""

from __future__ import annotations

import argparse
import os
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any

import jwt

from local_stack.template import jwt_settings, load_template

SECRET_ENV = "JOURNEYS_LOCAL_JWT_SECRET"
DEFAULT_SECRET = "journeys-local-development-secret"
ALGORITHM = "HS256"


def jwt_secret() -> str:
    return os.environ.get(SECRET_ENV) or DEFAULT_SECRET


def split_roles(roles: str | Iterable[str]) -> list[str]:
    """Roles from ``"admin,staff"``, ``"admin staff"`` or an iterable of either form."""
    items = [roles] if isinstance(roles, str) else list(roles)
    return [role for item in items for role in re.split(r"[,\s]+", item) if role]


def make_token(
    org: str = "demo",
    roles: str | Iterable[str] = ("admin", "staff"),
    sub: str = "local-user",
    ttl_seconds: int = 8 * 3600,
    secret: str | None = None,
    extra_claims: Mapping[str, Any] | None = None,
) -> str:
    """An HS256 token for ``org`` with ``roles`` as Cognito groups, valid for ``ttl_seconds``.

    Issuer and audience are the template's, so the gateway's checks pass. A negative
    ``ttl_seconds`` makes an already expired token (handy in tests).
    """
    settings = jwt_settings(load_template())
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": sub,
        "cognito:username": sub,
        "custom:org_id": org,
        "token_use": "id",
        "iat": min(now, now + ttl_seconds),
        "exp": now + ttl_seconds,
    }
    if settings.issuer:
        claims["iss"] = settings.issuer
    if settings.audiences:
        claims["aud"] = settings.audiences[0]
    groups = split_roles(roles)
    if groups:  # Cognito leaves the claim out for a user in no group
        claims["cognito:groups"] = groups
    claims.update(extra_claims or {})
    return jwt.encode(claims, secret or jwt_secret(), algorithm=ALGORITHM)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m local_stack.tokens",
        description="Print a JWT the local stack's gateway accepts.",
    )
    parser.add_argument("--org", default="demo", help="organization id (custom:org_id)")
    parser.add_argument(
        "--roles",
        nargs="*",
        default=["admin", "staff"],
        help="Cognito groups, comma- or space-separated (default: admin,staff)",
    )
    parser.add_argument("--sub", default="local-user", help="subject (user id)")
    parser.add_argument("--ttl", type=int, default=8 * 3600, help="lifetime in seconds")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    print(make_token(org=args.org, roles=args.roles, sub=args.sub, ttl_seconds=args.ttl))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
