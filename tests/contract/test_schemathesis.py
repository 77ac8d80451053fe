"""Every operation of docs/openapi.json fuzzed by schemathesis through the local stack's
gateway (route matching, the JWT authorizer, payload format 2.0) into the handlers on moto:
no answer is a 5xx and every answer matches the document (status, content type, body, headers).

In-process: the gateway is a WSGI application (local_stack.gateway.GatewayApp), so no server or
socket is involved and a run is deterministic (``derandomize``; Hypothesis also draws from
the project's own literals, so an edit anywhere may change the cases). The organization is
seeded first (built-in journeys, a patient enrolled, one stuck past a stale rule, the rule
playbook, an execution); the path parameters of valid cases (and, for two operations, their
bodies) are swapped for those objects part of the time, so cases reach real objects, not only
404s. Then explicit cases: every sample request of events/, and bodies built to break a
parser or a store (not UTF-8, 64/65/1000 levels deep, 1e400, 10**30, empty, 300 KiB) on
every operation with a body. Last, every AWS call the functions made is held against their
IAM policies.

Checks: all of schemathesis' checks but two that cannot hold for a documented reason:
- ``unsupported_method`` / ``allow_header_conformance``: API Gateway HTTP APIs answer an
  undeclared method with 404 ``{"message": "Not Found"}``, never 405 with ``Allow``; the local
  gateway does the same (tests/unit/test_local_stack_gateway.py).
``positive_data_acceptance`` runs with 422 added to its expected statuses: the document's JSON
Schema cannot say everything a valid request needs (an ``initial_stage`` among the ``stages``,
a rule's action naming a journey that exists, a cursor this API issued), so schema-valid data
may still be refused as semantically invalid (422); never as malformed (400), too large (413),
unauthorized (401/403) or with a 5xx. ``ignored_auth`` runs on the generated cases (each
operation refuses a request without, or with a broken, token) but not on the explicit ones,
whose token it cannot tell from a generated one.

Each test checks what it did on its own (the AWS calls its requests made against the
functions' policies; per operation, that the fuzzing reached a seeded object), so any
selection of them (-k, -n) checks as much as the whole module.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from moto import mock_aws
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import ignored_auth

from journeys_core.clock import utc_now
from local_stack import lambdas
from local_stack.gateway import Gateway, GatewayApp
from local_stack.template import http_routes, load_template
from local_stack.tokens import make_token
from tests.conftest import RESOURCE_PREFIX
from tests.support.events import EVENTS_DIR, load_sample
from tests.support.gateway import GatewayClient
from tests.support.policies import CallRecorder, grants, recording_invoker
from tests.support.stale_monitor import Clock

pytestmark = pytest.mark.contract

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "docs" / "openapi.json"
ORG = "contract-org"
STUCK = "patient-0043"
EXAMPLES_PER_OPERATION = 50
TOKEN = make_token(
    org=ORG, roles="admin,staff,integration", sub="contract-tester", ttl_seconds=24 * 3600
)
AUTH = {"Authorization": f"Bearer {TOKEN}"}

CONFIG = schemathesis.Config.from_dict(
    {
        "base-url": "http://localhost",
        "cache": {"enabled": False},
        "auth": {"openapi": {"jwt": {"bearer": TOKEN}}},
        "generation": {
            "mode": "all",
            "max-examples": EXAMPLES_PER_OPERATION,
            "deterministic": True,
        },
        "checks": {
            "unsupported_method": {"enabled": False},
            "allow_header_conformance": {"enabled": False},
            "positive_data_acceptance": {"expected-statuses": ["2xx", "404", "409", "422"]},
        },
    }
)
# Every AWS call a function makes during the run, to hold against its IAM policy.
RECORDER = CallRecorder(names={})
APP = GatewayApp(Gateway(invoke=recording_invoker(RECORDER, lambdas.invoke)))
schema = schemathesis.openapi.from_path(DOCUMENT, config=CONFIG)
schema.app = APP

# Ids of the seeded organization's objects, by path parameter name (filled by `seeded`).
KNOWN: dict[str, list[str]] = {}
# Statuses answered per operation, for the test that the fuzzing reached real objects.
ANSWERED: dict[str, Counter[int]] = {}


@pytest.fixture(scope="module")
def api() -> Iterator[GatewayClient]:
    """A fresh moto account with template.yaml's resources, reached through the gateway."""
    from journeys_core.data import aws
    from journeys_core.data.aws import reset_clients
    from journeys_core.data.warm_cache import warm_cache
    from local_stack.template import create_resources

    with mock_aws():
        reset_clients()
        warm_cache.clear()
        created = create_resources(boto3.session.Session(), RESOURCE_PREFIX)
        RECORDER.names = {resource["name"]: logical_id for logical_id, resource in created.items()}
        for service in ("dynamodb", "events", "ses", "sqs"):
            RECORDER.watch(aws.client(service))
        yield GatewayClient(APP.gateway)
        reset_clients()
        warm_cache.clear()


def _send_sample(api: GatewayClient, name: str) -> Any:
    """The sample event ``events/<name>.json`` sent through the gateway as the test org."""
    event = load_sample(name)
    target = event["rawPath"] + (f"?{event['rawQueryString']}" if event["rawQueryString"] else "")
    body = (event.get("body") or "").encode()
    answer = api.request(event["routeKey"].split()[0], target, headers=_json(AUTH), body=body)
    assert answer.status < 300, (name, answer.status, answer.body)
    return answer.body


def _json(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Content-Type": "application/json"}


@pytest.fixture
def seeded(api: GatewayClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """The organization has the built-in journeys, patient-0042 (profile, enrolled in the
    retreat), a patient stuck past the retreat's stale rule, the rule playbook and an
    execution for patient-001 (idempotent: fuzzing may delete or change any of it, and each
    operation's test starts from it again)."""
    _send_sample(api, "journeys/import-builtin")
    # Fuzzing may retire the retreat (is_active=false): it takes enrollments again.
    api.request(
        "PATCH", "/api/v1/journeys/retreat_ibiza_2025", headers=AUTH, json_body={"is_active": True}
    )
    _send_sample(api, "patients/put-patient")
    patient = _send_sample(api, "patients/get-patient")
    if "retreat_ibiza_2025" not in patient["journey_status"]:
        _send_sample(api, "patients/enroll-patient")
    if api.request("GET", f"/api/v1/patients/{STUCK}", headers=AUTH).status == 404:
        _enroll_stuck(api, monkeypatch)
    _send_sample(api, "journeys/record-execution")
    rules = _send_sample(api, "automation_rules/list-rules")["items"]
    if not rules:
        rules = _send_sample(api, "automation_rules/import-playbook")["items"]
    journey_id = _send_sample(api, "journeys/load-journey")["id"]  # diabetic-first-year's
    migration = api.request(
        "POST",
        "/api/v1/journeys/retreat_ibiza_2025/migrations",
        headers=AUTH,
        json_body={"stage_map": {}},
    )
    assert migration.status == 202, migration.body
    KNOWN.update(
        name_or_id=["diabetic-first-year", "retreat_ibiza_2025", journey_id],
        key=["retreat_ibiza_2025"],
        patient_id=["patient-0042"],
        entity_id=["patient-001"],
        rule_id=[rule["id"] for rule in rules[:3]],
        asset=["index.html", "app.js", "app.css"],
        migration_id=[migration.body["id"]],
    )


def _enroll_stuck(api: GatewayClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """STUCK entered AWAITING_PAYMENT 49 hours ago (the retreat's stale rule says 48), so the
    admin check has a timeout to emit."""
    clock = Clock(monkeypatch, origin=utc_now())
    for stage, hours_ago in (
        ("SCREENING_PENDING", 60),
        ("SCREENING_COMPLETED", 55),
        ("AWAITING_PAYMENT", 49),
    ):
        clock.now = clock.origin - timedelta(hours=hours_ago)
        move = {"key": "retreat_ibiza_2025", "status": stage}
        answer = api.request(
            "PATCH", f"/api/v1/patients/{STUCK}/journey", headers=AUTH, json_body=move
        )
        assert answer.status == 200, answer.body
    clock.now = clock.origin


RETREAT_STAGES = ["SCREENING_PENDING", "SCREENING_COMPLETED", "BLOCKED_HIGH_RISK", "CANCELLED"]


def _valid_move(case: Any) -> Any:
    """A move of the seeded patient's retreat enrollment to one of its stages."""
    return st.sampled_from(RETREAT_STAGES).map(
        lambda stage: {
            "body": {"key": "retreat_ibiza_2025", "status": stage, "reason": "contract test"}
        }
    )


def _valid_timeline(case: Any) -> Any:
    """A timeline of a journey with events, for entity_id only (not with entity_ids too)."""
    body = {key: value for key, value in case.body.items() if key != "entity_ids"}
    body["entity_id"] = body.get("entity_id") or "patient-001"
    path = {**case.path_parameters, "name_or_id": "diabetic-first-year"}
    return st.just({"body": body, "path_parameters": path})


# Valid requests that also name seeded objects, for operations whose generated ones almost
# never do (a move must name a journey the patient can be in, and one of its stages; a
# timeline needs a journey with events, and entity_id or entity_ids but not both; a
# migration's map names stages of the journey's versions): swapped
# in for part of the valid cases.
def _new_enrollment(case: Any) -> Any:
    """A first enrollment of a fresh patient in the retreat, at its initial stage."""
    return st.integers(min_value=0, max_value=10**6).map(
        lambda n: {
            "path_parameters": {**case.path_parameters, "patient_id": f"contract-{n}"},
            "body": {"key": "retreat_ibiza_2025", "status": "SCREENING_PENDING"},
        }
    )


def _valid_analytics(case: Any) -> Any:
    """The retreat's analytics over the default period (generated dates may lie outside the
    years the API accepts, 1900-2200)."""
    return st.just({"path_parameters": {"key": "retreat_ibiza_2025"}, "query": {}})


def _valid_simulation(case: Any) -> Any:
    """A small rehearsal of the retreat (generated cohorts may be refused as too much work)."""
    path = {**case.path_parameters, "name_or_id": "retreat_ibiza_2025"}
    return st.just({"path_parameters": path, "body": {"cohort_size": 5, "days": 30}})


def _valid_migration(case: Any) -> Any:
    """A dry run of the retreat's migration onto its current version (stages it has)."""
    path = {**case.path_parameters, "name_or_id": "retreat_ibiza_2025"}
    body = {"stage_map": {"BLOCKED_HIGH_RISK": "CANCELLED"}, "dry_run": True}
    return st.just({"body": body, "path_parameters": path})


CASE_FIXES = {
    "PATCH /api/v1/patients/{patient_id}/journey": lambda case: st.one_of(
        _valid_move(case), _new_enrollment(case)
    ),
    "GET /api/v1/analytics/journeys/{key}": _valid_analytics,
    "POST /api/v1/journeys/{name_or_id}/simulate": _valid_simulation,
    "POST /api/v1/journeys/{name_or_id}/migrations": _valid_migration,
    "POST /api/v1/journeys/{name_or_id}/timeline": _valid_timeline,
}


def _seeded_path(case: Any) -> Any:
    """Path parameters naming a seeded object (the others as generated), or None."""
    path_parameters = case.path_parameters or {}
    known = {name: st.sampled_from(KNOWN[name]) for name in path_parameters if KNOWN.get(name)}
    if not known:
        return None
    others = {name: st.just(value) for name, value in path_parameters.items()}
    return st.fixed_dictionaries({**others, **known}).map(lambda path: {"path_parameters": path})


@schema.hook
def flatmap_case(context: Any, case: Any) -> Any:
    """Valid cases, part of the time (as Hypothesis draws), name seeded objects in their path
    and get their operation's fix. Invalid ones stay as generated: a seeded id swapped into a
    path the case made invalid would leave it invalid only where the API is lenient (an
    unknown query parameter), and its 200 would read as invalid data accepted."""
    positive = case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE
    if not positive:
        return st.just(case)

    def fixed(parts: dict[str, Any]) -> Any:
        for name, value in parts.items():
            setattr(case, name, value)
        return case

    options = [st.just(case)]
    seeded_path = _seeded_path(case)
    if seeded_path is not None:
        options.append(seeded_path.map(fixed))
    fix = CASE_FIXES.get(case.operation.label)
    if fix is not None and (isinstance(case.body, dict) or case.operation.method.lower() == "get"):
        options.append(fix(case).map(fixed))
    return st.one_of(*options)


@schema.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    if case.meta is not None:  # generated, not one of the explicit cases below
        ANSWERED.setdefault(case.operation.label, Counter())[response.status_code] += 1


def _refused_by_policy(calls: set[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """The calls a function made that its IAM policy in template.yaml does not allow (moto
    does not enforce IAM: such a call would only fail in AWS)."""
    template = load_template()
    return sorted(
        (function, action, resource)
        for function, action, resource in calls
        if (action, resource) not in grants(template, function)
    )


@pytest.fixture
def allowed_calls_only() -> Iterator[None]:
    """After the test: every AWS call a function made during it is allowed by its policy."""
    before = set(RECORDER.calls)
    yield
    refused = _refused_by_policy(RECORDER.calls - before)
    assert refused == [], "\n".join(map(str, refused))


@pytest.fixture
def reaches_real_objects() -> Iterator[None]:
    """After an operation's generated cases: at least one was answered with a 2xx, so the
    seeded ids were used, not only random ones. Each operation is checked on its own, so
    the check holds under -k and -n."""
    before = {label: Counter(statuses) for label, statuses in ANSWERED.items()}
    yield
    answered = {
        label: statuses - before.get(label, Counter()) for label, statuses in ANSWERED.items()
    }
    answered = {label: statuses for label, statuses in answered.items() if statuses}
    assert answered, "no generated case was answered"
    without_success = {
        label: dict(statuses)
        for label, statuses in answered.items()
        if not any(200 <= status < 300 for status in statuses)
    }
    assert without_success == {}


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_matches_the_document(
    case: Any, seeded: None, reaches_real_objects: None, allowed_calls_only: None
) -> None:
    # Given a generated request (valid or not, signed or not) for one operation
    # When it goes through the gateway to the handler
    # Then the answer is no 5xx and matches the document in every check
    case.call_and_validate()


# -- explicit cases ---------------------------------------------------------------------------


def _samples() -> list[str]:
    """Every sample event of an HTTP route (events/**), by name."""
    names = []
    for path in sorted(EVENTS_DIR.rglob("*.json")):
        if "routeKey" in json.loads(path.read_text()):
            names.append(str(path.relative_to(EVENTS_DIR).with_suffix("")))
    return names


def _operation_of(event: dict[str, Any]) -> Any:
    method, path = event["routeKey"].split(" ", 1)
    return schema[path][method]


def _call(event: dict[str, Any], body: bytes | None = None) -> tuple[Any, Any]:
    """Send ``event``'s request (with ``body`` instead of its own, if given) through the
    gateway as the test organization; the case and its answer, checked against the document."""
    operation = _operation_of(event)
    query = dict(event.get("queryStringParameters") or {})
    case = operation.Case(path_parameters=event.get("pathParameters") or {}, query=query)
    raw = (event.get("body") or "").encode() if body is None else body
    response = case.call(headers=_json(AUTH), data=raw)
    # ignored_auth resends without the token: explicit cases carry theirs in `headers`,
    # which it takes for generated auth; the generated run and the isolation matrix cover it.
    case.validate_response(response, excluded_checks=[ignored_auth])
    return case, response


@pytest.mark.parametrize("sample", _samples())
def test_every_sample_event_is_answered_as_documented(
    sample: str, seeded: None, allowed_calls_only: None
) -> None:
    # Given a sample request of events/ (the ones `sam local invoke` and the tests use)
    # When it is sent as the seeded organization
    _, response = _call(load_sample(sample))

    # Then its answer is documented and no server error
    assert response.status_code < 500


def _body_operations() -> dict[str, str]:
    """One sample event per operation that takes a body: route key -> sample name."""
    chosen: dict[str, str] = {}
    for name in _samples():
        event = load_sample(name)
        if event.get("body") and "requestBody" in _operation_of(event).definition.raw:
            chosen.setdefault(event["routeKey"], name)
    return chosen


BODY_OPERATIONS = _body_operations()


def _nested(levels: int) -> bytes:
    return ("[" * levels + "]" * levels).encode()


FREE_FORM = ("metadata", "payload")  # request fields whose values may be any JSON
PLACEHOLDER = "__VALUE__"


def _free_form_field(route_key: str) -> str | None:
    """The operation's body field that takes any JSON, if it has one."""
    method, path = route_key.split(" ", 1)
    body_schema = schema.raw_schema["paths"][path][method.lower()]["requestBody"]["content"][
        "application/json"
    ]["schema"]
    name = body_schema["$ref"].rsplit("/", 1)[-1]
    properties = schema.raw_schema["components"]["schemas"][name].get("properties", {})
    return next((field for field in FREE_FORM if field in properties), None)


def _with_value(route_key: str, body: str, literal: str) -> bytes:
    """The sample body carrying ``literal`` where any JSON is allowed (``{"n": literal}`` as
    its metadata or payload), or else in place of each of its numbers, or else as one more
    field."""
    value = json.loads(body)
    free = _free_form_field(route_key)
    if free:
        value[free] = {"n": PLACEHOLDER}
    else:
        text = json.dumps(value)
        swapped = re.sub(r"(?<=[:\[,] )-?\d+(\.\d+)?(?=[,}\]])", f'"{PLACEHOLDER}"', text)
        value = json.loads(swapped) if swapped != text else {**value, "n": PLACEHOLDER}
    return json.dumps(value).replace(f'"{PLACEHOLDER}"', literal).encode()


@dataclass(frozen=True)
class Hostile:
    make: Callable[[str, str], bytes]  # (route key, the sample's body) -> the body to send
    statuses: set[int]
    says: str = ""  # what the error message must contain


HOSTILE_BODIES = {
    "not-utf8": Hostile(lambda route, body: b'{"name": "\xff\xfe\xfa"}', {400}, "not UTF-8"),
    "64-deep": Hostile(lambda route, body: _nested(64), {422}),
    "65-deep": Hostile(lambda route, body: _nested(65), {422}, "nested more than 64 levels"),
    "1000-deep": Hostile(lambda route, body: _nested(1000), {422}, "nested more than 64 levels"),
    "1e400": Hostile(
        lambda route, body: _with_value(route, body, "1e400"), {422}, "1e400 is too large"
    ),
    "10**30": Hostile(
        lambda route, body: _with_value(route, body, str(10**30)), {200, 201, 202, 404, 409, 422}
    ),
    "empty": Hostile(lambda route, body: b"", {422}),
    "300KiB": Hostile(
        lambda route, body: b'{"pad": "' + b"x" * (300 * 1024) + b'"}', {413}, "over"
    ),
}


@pytest.mark.parametrize("hostile", sorted(HOSTILE_BODIES))
@pytest.mark.parametrize("route_key", sorted(BODY_OPERATIONS))
def test_hostile_bodies_get_a_documented_answer_never_a_5xx(
    route_key: str, hostile: str, seeded: None, allowed_calls_only: None
) -> None:
    # Given an operation that takes a body, and a body built to break a parser or a store
    event = load_sample(BODY_OPERATIONS[route_key])
    case = HOSTILE_BODIES[hostile]

    # When it is sent
    _, response = _call(event, case.make(route_key, event["body"]))

    # Then the answer is the documented refusal saying why (or, for a big but valid number,
    # the usual answer, with the number kept exactly), and it matches the document
    assert response.status_code in case.statuses, (response.status_code, response.content[:300])
    answer = json.loads(response.content) if response.content else {}
    if case.says:
        assert case.says in answer["message"], answer["message"]
    free = _free_form_field(route_key)
    if response.status_code < 300 and free and free in answer:
        assert answer[free] == {"n": 10**30}


# Permissions used only on failure paths this run does not provoke, each with its reason.
USED_ELSEWHERE = {
    ("AdminFunction", "dynamodb:UpdateItem", "SystemEventsTable"): (
        "marks timeouts the bus refused as failed (the monitor's code, shared by the check): "
        "tests/integration/test_stale_monitor.py::"
        "test_a_timeout_the_bus_refused_goes_out_on_a_later_run_with_its_event_id"
    ),
}


def test_every_permission_of_the_api_functions_is_used(api: GatewayClient, seeded: None) -> None:
    """The other way round: what an API function may do, it does when every sample request
    and two more are sent (this test sends them itself, so it holds alone, under -k and -n),
    so no permission is there for nothing, but those of USED_ELSEWHERE."""
    for sample in _samples():
        _call(load_sample(sample))
    # What no sample does: read a journey by its id, delete one that has executions...
    _send_sample(api, "journeys/import-builtin")
    journey_id = _send_sample(api, "journeys/load-journey")["id"]
    assert api.request("GET", f"/api/v1/journeys/{journey_id}", headers=AUTH).status == 200
    _send_sample(api, "journeys/record-execution")
    deleted = api.request("DELETE", "/api/v1/journeys/diabetic-first-year", headers=AUTH)
    assert deleted.status < 300, deleted.body
    # ... and start a migration, then read it (the sample of a start is a dry run).
    started = api.request(
        "POST", "/api/v1/journeys/retreat_ibiza_2025/migrations", headers=AUTH, json_body={}
    )
    assert started.status == 202, started.body
    followed = f"/api/v1/journeys/retreat_ibiza_2025/migrations/{started.body['id']}"
    assert api.request("GET", followed, headers=AUTH).status == 200
    template = load_template()
    used: dict[str, set[tuple[str, str]]] = {}
    for function, action, resource in RECORDER.calls | set(USED_ELSEWHERE):
        used.setdefault(function, set()).add((action, resource))
    api_functions = {route.function_logical_id for route in http_routes(template)}
    unused = {
        function: sorted(grants(template, function) - used.get(function, set()))
        for function in sorted(api_functions)
    }
    assert {function: left for function, left in unused.items() if left} == {}
