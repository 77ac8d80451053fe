"""Tenant isolation over every route of template.yaml (DESIGN §4: another tenant's object is
404, never visible), through the local stack's gateway (JWT authorizer, routing, payload 2.0)
into the handlers on moto.

Organization A has journeys (the built-ins), a patient enrolled and stuck in a stage with a
stale rule, an execution, automation rules. A caller of organization B aims every route at
A's ids: reads and writes of A's objects are 404, collections are empty, and what B creates
lands in B's own namespace; afterwards every DynamoDB item that existed is unchanged and no
new item names A. Tokens that are missing, badly signed or expired are 401 on every route
behind the authorizer; a role too low is 403 and writes nothing.

MATRIX must name every route of the template: a new route without an entry fails here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import boto3
import pytest

from journeys_core.clock import utc_now
from local_stack.template import http_routes, load_template
from tests.support.automation import install_pipeline
from tests.support.events import load_sample
from tests.support.gateway import Answer, GatewayClient, bearer
from tests.support.stale_monitor import Clock

A, B = "org-a", "org-b"
PATIENT = "patient-0042"  # A's, profile and enrollment
STUCK = "patient-0043"  # A's, in AWAITING_PAYMENT for 49 hours (the retreat's rule: 48)
JOURNEY = "retreat_ibiza_2025"  # a built-in A imported (stages, stale rules)
TIMELINE_JOURNEY = "diabetic-first-year"  # a built-in with events
ENTITY = "patient-001"  # A's execution's entity
ROLE_GROUPS = {"reader": "", "staff": "staff", "admin": "admin", "integration": "integration"}
# One role below; for an integration, an admin: people submit no events.
LOWER_ROLE = {"staff": "reader", "admin": "staff", "integration": "admin"}


@dataclass(frozen=True)
class Aim:
    """One request of B at A's objects and what B must get.

    ``path`` and ``body`` may name A's objects as {journey}, {journey_id}, {patient},
    {rule}, {entity}; ``empty`` is the list that must come back empty; ``role`` the least
    role the route takes (a caller one below gets 403)."""

    path: str
    status: int
    body: Any = None
    empty: str | None = None
    role: str = "admin"
    process_bus: bool = False  # let the automation engine take whatever B put on the bus
    check: Callable[[Any], bool] | None = None


def _sample_body(name: str) -> Any:
    return json.loads(load_sample(name)["body"])


MATRIX: dict[str, list[Aim]] = {
    # -- journey definitions, executions, timelines ----------------------------------------
    "POST /api/v1/journeys": [
        # A's name is free in B's namespace: B saves its own journey (not 409)
        Aim("/api/v1/journeys", 201, {"name": "{journey}", "journey_spec": {"stages": ["X"]}}),
    ],
    "GET /api/v1/journeys": [
        Aim("/api/v1/journeys?search=retreat", 200, empty="items", role="reader"),
    ],
    "POST /api/v1/journeys/import-builtin": [
        # B's own copies: A already has them all, B still imports every one
        Aim("/api/v1/journeys/import-builtin", 200, check=lambda body: body["imported"] > 0),
    ],
    "GET /api/v1/journeys/{name_or_id}": [
        Aim("/api/v1/journeys/{journey}", 404, role="reader"),
        Aim("/api/v1/journeys/{journey_id}", 404, role="reader"),
        Aim("/api/v1/journeys/{journey}?version=1", 404, role="reader"),
    ],
    "PATCH /api/v1/journeys/{name_or_id}": [
        Aim("/api/v1/journeys/{journey}", 404, {"description": "B was here", "is_active": False}),
        Aim("/api/v1/journeys/{journey_id}", 404, {"description": "B was here"}),
    ],
    "DELETE /api/v1/journeys/{name_or_id}": [
        Aim("/api/v1/journeys/{journey}", 404),
        Aim("/api/v1/journeys/{journey_id}?delete_executions=true", 404),
    ],
    "POST /api/v1/journeys/{name_or_id}/migrations": [
        Aim("/api/v1/journeys/{journey}/migrations", 404, {"dry_run": True}),
        Aim("/api/v1/journeys/{journey_id}/migrations", 404, {"stage_map": {}}),
    ],
    "GET /api/v1/journeys/{name_or_id}/migrations/{migration_id}": [
        Aim("/api/v1/journeys/{journey}/migrations/mig-0123456789abcdef", 404),
    ],
    "GET /api/v1/journeys/{name_or_id}/versions": [
        Aim("/api/v1/journeys/{journey}/versions", 404, role="reader"),
    ],
    "POST /api/v1/journeys/{name_or_id}/executions": [
        Aim(
            "/api/v1/journeys/{timeline_journey}/executions",
            404,
            _sample_body("journeys/record-execution"),
        ),
    ],
    "GET /api/v1/journeys/{name_or_id}/executions": [
        Aim("/api/v1/journeys/{timeline_journey}/executions", 404, role="reader"),
    ],
    "GET /api/v1/entities/{entity_id}/journeys": [
        Aim("/api/v1/entities/{entity}/journeys", 200, empty="items", role="reader"),
    ],
    "POST /api/v1/journeys/{name_or_id}/timeline": [
        Aim(
            "/api/v1/journeys/{timeline_journey}/timeline",
            404,
            {"entity_id": "{entity}", "record_execution": True},
        ),
    ],
    "POST /api/v1/journeys/{name_or_id}/simulate": [
        Aim("/api/v1/journeys/{journey}/simulate", 404, {"cohort_size": 10}, role="staff"),
        Aim("/api/v1/journeys/{journey_id}/simulate", 404, {"cohort_size": 10}, role="staff"),
    ],
    "GET /api/v1/journey-templates": [
        Aim("/api/v1/journey-templates", 200, empty="items", role="reader"),
    ],
    # -- patients ----------------------------------------------------------------------------
    "PUT /api/v1/patients/{patient_id}": [
        # A's patient id is free in B's namespace: B creates its own (201, not 200)
        Aim("/api/v1/patients/{patient}", 201, {"display_name": "B's own"}, role="staff"),
    ],
    "GET /api/v1/patients/{patient_id}": [
        Aim("/api/v1/patients/{patient}", 404, role="staff"),
    ],
    "GET /api/v1/patients": [
        Aim(
            "/api/v1/patients?journey_key={journey}&stage=SCREENING_PENDING",
            200,
            empty="items",
            role="staff",
        ),
        Aim(
            "/api/v1/patients?journey_key={journey}&stage=AWAITING_PAYMENT",
            200,
            empty="items",
            role="staff",
        ),
        # A's patient is not found by its name or its email
        Aim("/api/v1/patients?search=Ana", 200, empty="items", role="staff"),
        Aim("/api/v1/patients?search=ana%40example.org", 200, empty="items", role="staff"),
    ],
    "PATCH /api/v1/patients/{patient_id}/journey": [
        Aim(
            "/api/v1/patients/{patient}/journey",
            404,
            {"key": "{journey}", "status": "SCREENING_COMPLETED", "reason": "B"},
            role="staff",
        ),
    ],
    "GET /api/v1/patients/{patient_id}/journeys/{key}/history": [
        Aim("/api/v1/patients/{patient}/journeys/{journey}/history", 404, role="staff"),
    ],
    "GET /api/v1/patients/{patient_id}/journeys/{key}/history/verify": [
        Aim("/api/v1/patients/{patient}/journeys/{journey}/history/verify", 404),
    ],
    "GET /api/v1/patients/{patient_id}/events": [
        Aim("/api/v1/patients/{patient}/events", 404, role="staff"),
    ],
    # -- automation rules and domain events --------------------------------------------------
    "GET /api/v1/automation-rules": [
        Aim("/api/v1/automation-rules", 200, empty="items"),
    ],
    "POST /api/v1/automation-rules": [
        # a rule of B cannot name A's journey: B has no such journey
        Aim("/api/v1/automation-rules", 422, _sample_body("automation_rules/create-rule")),
    ],
    "POST /api/v1/automation-rules/import-playbook": [
        # the playbook installs for the journeys B has: none
        Aim(
            "/api/v1/automation-rules/import-playbook",
            200,
            check=lambda body: body["installed"] == 0 and body["items"] == [],
        ),
    ],
    "GET /api/v1/automation-rules/{rule_id}": [
        Aim("/api/v1/automation-rules/{rule}", 404),
    ],
    "PATCH /api/v1/automation-rules/{rule_id}": [
        Aim("/api/v1/automation-rules/{rule}", 404, {"priority": 1, "is_active": False}),
    ],
    "DELETE /api/v1/automation-rules/{rule_id}": [
        Aim("/api/v1/automation-rules/{rule}", 404),
    ],
    "POST /api/v1/events": [
        # B's event is B's (the organization comes from the token): A's rule for this
        # trigger would move A's patient; processed by the engine, it moves nothing of A
        Aim(
            "/api/v1/events",
            202,
            {**_sample_body("automation_rules/submit-event"), "patient_id": "{patient}"},
            role="integration",
            process_bus=True,
        ),
    ],
    # -- administration and analytics --------------------------------------------------------
    "GET /api/v1/admin/stale-journeys/check": [
        # A's patient is stuck past the retreat's rule; B's check sees nothing of A
        Aim(
            "/api/v1/admin/stale-journeys/check",
            200,
            check=lambda body: body["processed"] == 0 and body["rules_triggered"] == {},
        ),
    ],
    "GET /api/v1/analytics/journeys/{key}": [
        Aim("/api/v1/analytics/journeys/{journey}", 404, role="staff"),
    ],
    # Public files of the dashboard: no data of anyone in them, no token read.
    "GET /dashboard": [Aim("/dashboard", 200, role="public")],
    "GET /dashboard/{asset}": [Aim("/dashboard/app.js", 200, role="public")],
}

ROUTES = {route.route_key: route for route in http_routes(load_template())}
AIMS = [
    pytest.param(route_key, aim, id=f"{route_key} {aim.path}")
    for route_key, aims in MATRIX.items()
    for aim in aims
]


@dataclass
class TenantA:
    ids: dict[str, str]


@pytest.fixture
def api() -> GatewayClient:
    return GatewayClient()


@pytest.fixture
def tenant_a(aws: None, api: GatewayClient, monkeypatch: pytest.MonkeyPatch) -> TenantA:
    """Organization A with something behind every route, all made through the API."""
    send = _sender(api, A)
    send("POST", "/api/v1/journeys/import-builtin", expect=200)
    profile = {"display_name": "Ana", "email": "ana@example.org"}
    send("PUT", f"/api/v1/patients/{PATIENT}", profile, expect=201)
    send(
        "PATCH",
        f"/api/v1/patients/{PATIENT}/journey",
        {"key": JOURNEY, "status": "SCREENING_PENDING"},
    )
    clock = Clock(monkeypatch, origin=utc_now())
    stays = (("SCREENING_PENDING", 60), ("SCREENING_COMPLETED", 55), ("AWAITING_PAYMENT", 49))
    for stage, hours_ago in stays:
        clock.now = clock.origin - timedelta(hours=hours_ago)
        send("PATCH", f"/api/v1/patients/{STUCK}/journey", {"key": JOURNEY, "status": stage})
    clock.now = clock.origin
    send(
        "POST",
        f"/api/v1/journeys/{TIMELINE_JOURNEY}/executions",
        _sample_body("journeys/record-execution"),
        expect=201,
    )
    rule = send(
        "POST", "/api/v1/automation-rules", _sample_body("automation_rules/create-rule"), expect=201
    )
    journey = send("GET", f"/api/v1/journeys/{JOURNEY}")
    return TenantA(
        ids={
            "journey": JOURNEY,
            "journey_id": journey["id"],
            "timeline_journey": TIMELINE_JOURNEY,
            "patient": PATIENT,
            "rule": rule["id"],
            "entity": ENTITY,
        }
    )


def _sender(api: GatewayClient, org: str) -> Callable[..., Any]:
    def send(method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        answer = api.request(method, path, headers=bearer(org), json_body=body)
        assert answer.status == expect, (method, path, answer.status, answer.body)
        return answer.body

    return send


def _fill(value: Any, ids: dict[str, str]) -> Any:
    """``value`` with {journey}, {patient}… replaced by A's ids (in strings, at any depth)."""
    if isinstance(value, str):
        for name, id_ in ids.items():
            value = value.replace("{" + name + "}", id_)
        return value
    if isinstance(value, dict):
        return {key: _fill(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, ids) for item in value]
    return value


def snapshot() -> dict[str, dict[str, Any]]:
    """Every item of every DynamoDB table, by table and key (a test-side Scan)."""
    dynamodb = boto3.client("dynamodb")
    items: dict[str, dict[str, Any]] = {}
    for table in dynamodb.list_tables()["TableNames"]:
        keys = [
            k["AttributeName"]
            for k in dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]
        ]
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                key = json.dumps([item[k] for k in keys], sort_keys=True)
                items[f"{table} {key}"] = item
    return items


def assert_nothing_of_a_changed(before: dict[str, Any], after: dict[str, Any]) -> None:
    changed = [key for key, item in before.items() if after.get(key) != item]
    assert changed == [], f"items that existed were changed or removed: {changed}"
    created = [key for key in after.keys() - before.keys() if A in json.dumps(after[key])]
    assert created == [], f"new items name organization A: {created}"


def _answer(
    api: GatewayClient, route_key: str, aim: Aim, ids: dict[str, str], **token: Any
) -> Answer:
    """``aim``'s request of ``route_key`` with A's ids, signed with a token of ``token``."""
    method = route_key.split()[0]
    return api.request(
        method, _fill(aim.path, ids), headers=bearer(**token), json_body=_fill(aim.body, ids)
    )


def test_the_matrix_names_every_route_of_the_template() -> None:
    assert set(MATRIX) == set(ROUTES)
    for route_key, aims in MATRIX.items():
        public = not ROUTES[route_key].auth
        assert all((aim.role == "public") == public for aim in aims), route_key


@pytest.mark.parametrize(("route_key", "aim"), AIMS)
def test_another_organization_never_reaches_the_objects_of_a(
    route_key: str, aim: Aim, tenant_a: TenantA, api: GatewayClient
) -> None:
    # Given organization A's objects, and a caller of B with every role
    before = snapshot()

    # When B aims the route at A's ids
    pipeline = install_pipeline() if aim.process_bus else None
    answer = _answer(api, route_key, aim, tenant_a.ids, org=B, roles="admin,staff,integration")
    if pipeline is not None:
        assert pipeline.drain() > 0  # the engine took B's event

    # Then B gets a 404 (or an empty list, or its own new object) and nothing of A changed
    assert answer.status == aim.status, answer.body
    if aim.empty:
        assert answer.body[aim.empty] == []
    if aim.check:
        assert aim.check(answer.body), answer.body
    if answer.status == 404 and ROUTES[route_key].auth:
        assert answer.body["code"] == "not_found"
        assert A not in json.dumps(answer.body)
    assert_nothing_of_a_changed(before, snapshot())


AUTHENTICATED = sorted(key for key, route in ROUTES.items() if route.auth)
BAD_TOKENS = {
    "no token": None,
    "bad signature": {"secret": "a-secret-the-jwt-authorizer-does-not-know"},
    "expired": {"ttl_seconds": -60},
    "another issuer": {"extra_claims": {"iss": "https://issuer.example.com"}},
}


@pytest.mark.parametrize("route_key", AUTHENTICATED)
def test_without_a_valid_token_every_route_is_401_before_any_function_runs(
    route_key: str, tenant_a: TenantA, api: GatewayClient
) -> None:
    aim = MATRIX[route_key][0]
    before = snapshot()
    for bad, token in BAD_TOKENS.items():
        # Given a request of A's own admin, its token missing, forged, expired or foreign
        # When it reaches the gateway
        if token is None:
            method, path = route_key.split()[0], _fill(aim.path, tenant_a.ids)
            answer = api.request(method, path, json_body=_fill(aim.body, tenant_a.ids))
        else:
            answer = _answer(api, route_key, aim, tenant_a.ids, org=A, **token)

        # Then the JWT authorizer answers 401
        assert answer.status == 401, (bad, answer.body)
        assert answer.body == {"message": "Unauthorized"}, bad
        assert answer.headers["www-authenticate"].startswith("Bearer"), bad
    # and nothing was written
    assert snapshot() == before


GUARDED = [
    pytest.param(route_key, aim, id=f"{route_key} as {LOWER_ROLE[aim.role]}")
    for route_key, aims in MATRIX.items()
    for aim in aims[:1]
    if aim.role in LOWER_ROLE
]


@pytest.mark.parametrize(("route_key", "aim"), GUARDED)
def test_a_role_too_low_is_403_and_writes_nothing(
    route_key: str, aim: Aim, tenant_a: TenantA, api: GatewayClient
) -> None:
    # Given A's own user, signed in, one role below what the route needs
    role = LOWER_ROLE[aim.role]
    before = snapshot()

    # When they call it on A's own objects
    answer = _answer(api, route_key, aim, tenant_a.ids, org=A, roles=ROLE_GROUPS[role])

    # Then it is 403 naming the role, and nothing is written
    assert answer.status == 403, answer.body
    assert answer.body["code"] == "forbidden"
    assert aim.role in answer.body["message"]
    assert snapshot() == before


def test_a_token_without_an_organization_is_403_everywhere(
    tenant_a: TenantA, api: GatewayClient
) -> None:
    headers = bearer(A, extra_claims={"custom:org_id": None})
    for route_key in AUTHENTICATED:
        aim = MATRIX[route_key][0]
        answer = api.request(
            route_key.split()[0],
            _fill(aim.path, tenant_a.ids),
            headers=headers,
            json_body=_fill(aim.body, tenant_a.ids),
        )
        assert answer.status == 403, (route_key, answer.body)
