"""Callers, roles and the shape of validation errors (no AWS)."""

from __future__ import annotations

import json

import pytest

from journeys_core.errors import Forbidden, Unauthorized
from journeys_core.http import MAX_JSON_DEPTH, caller_from_claims, parse_groups, parse_json_body
from journeys_core.settings import get_settings


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("[admin staff]", {"admin", "staff"}),
        ("[staff]", {"staff"}),
        ("admin staff", {"admin", "staff"}),
        ("admin,staff", {"admin,staff"}),  # one unknown name: Cognito names hold no spaces
        (["admin", "staff"], {"admin", "staff"}),
        (["readers,admin"], {"readers,admin"}),
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


@pytest.mark.parametrize("org", ["org#a", "org/a", "o" * 65, "-org", "org a", "org:a", "org@a"])
def test_an_organization_id_outside_the_pattern_is_forbidden(org: str) -> None:
    with pytest.raises(Forbidden, match="custom:org_id"):
        caller_from_claims({"sub": "u1", "custom:org_id": org})


def test_request_json_may_nest_64_levels_and_no_deeper() -> None:
    # Given bodies nested exactly at and one past the limit
    at_limit = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    past_limit = "[" + at_limit + "]"

    # Then the first parses and the second is refused as invalid JSON, saying why
    assert parse_json_body(at_limit) is not None
    with pytest.raises(json.JSONDecodeError, match="nested more than 64 levels"):
        parse_json_body(past_limit)


@pytest.mark.parametrize("number", ["1e400", "-1e400", "NaN", "Infinity", "-Infinity"])
def test_request_json_numbers_must_be_finite(number: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        parse_json_body('{"n": ' + number + "}")


def test_request_json_keeps_large_integers_exactly() -> None:
    assert parse_json_body('{"n": 1000000000000000000000000000000}') == {"n": 10**30}


MACHINE_TOKEN = {
    "sub": "7integrationclient",
    "client_id": "7integrationclient",
    "token_use": "access",
    "scope": "journeys/events.write",
}


def test_a_mapped_integration_client_acts_for_its_organization_in_the_integration_group(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INTEGRATION_CLIENTS", "other=org-b, 7integrationclient=clinic-1")
    get_settings.cache_clear()
    try:
        caller = caller_from_claims(MACHINE_TOKEN)
        unmapped = {**MACHINE_TOKEN, "client_id": "stranger", "sub": "stranger"}
        without_scope = {**MACHINE_TOKEN, "scope": "openid"}
        id_token = {**MACHINE_TOKEN, "token_use": "id"}

        assert (caller.org, caller.roles, caller.actor) == (
            "clinic-1",
            frozenset({"integration"}),
            "7integrationclient",
        )
        for claims in (unmapped, without_scope, id_token):
            with pytest.raises(Forbidden, match="custom:org_id"):
                caller_from_claims(claims)
    finally:
        get_settings.cache_clear()
