"""Callers, roles and the shape of validation errors (no AWS)."""

from __future__ import annotations

import pytest

from journeys_core.errors import Forbidden, Unauthorized
from journeys_core.http import caller_from_claims, parse_groups


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("[admin staff]", {"admin", "staff"}),
        ("[staff]", {"staff"}),
        ("admin staff", {"admin", "staff"}),
        ("admin,staff", {"admin", "staff"}),
        (["admin", "staff"], {"admin", "staff"}),
        ("[]", set()),
        ("", set()),
        (None, set()),
    ],
)
def test_groups_arrive_in_every_shape_api_gateway_uses(raw: object, expected: set[str]) -> None:
    assert parse_groups(raw) == expected


def test_a_caller_needs_a_subject_and_an_organization() -> None:
    with pytest.raises(Unauthorized):
        caller_from_claims({})
    with pytest.raises(Forbidden):
        caller_from_claims({"sub": "u1"})
    caller = caller_from_claims({"sub": "u1", "custom:org_id": "org", "cognito:groups": "[staff]"})
    assert (caller.sub, caller.org, caller.roles) == ("u1", "org", frozenset({"staff"}))
