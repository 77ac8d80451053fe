"""The journey definitions API, handler in-process on moto (DESIGN §4, first eight rows)."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest

from tests.conftest import ApiResult, all_pages, invoke
from tests.support.events import api_event

pytestmark = pytest.mark.usefixtures("aws")

SPEC: dict[str, Any] = {
    "journey_id": "diabetic-first-year",
    "description": "spec description",
    "duration_days": 365,
    "products": ["patientsim", "membersim"],
    "events": [
        {"event_id": "visit", "event_type": "encounter", "delay": {"min_days": 90, "max_days": 90}},
        {"event_id": "lab", "event_type": "lab_order", "depends_on": "visit"},
        {"event_id": "eye", "event_type": "encounter", "delay": {"days": 60}},
    ],
}


def save(name: str = "diabetic", org: str = "org-a", **fields: Any) -> ApiResult:
    body = {"name": name, "journey_spec": fields.pop("journey_spec", SPEC), **fields}
    return invoke("journeys", api_event("journeys/save-journey", body=body, org=org))


def load(name_or_id: str, org: str = "org-a", **query: str) -> ApiResult:
    event = api_event(
        "journeys/load-journey", path_params={"name_or_id": name_or_id}, query=query, org=org
    )
    return invoke("journeys", event)


def update(name_or_id: str, body: dict[str, Any], org: str = "org-a") -> ApiResult:
    event = api_event(
        "journeys/update-journey", path_params={"name_or_id": name_or_id}, body=body, org=org
    )
    return invoke("journeys", event)


def delete(name_or_id: str, org: str = "org-a") -> ApiResult:
    event = api_event(
        "journeys/delete-journey", path_params={"name_or_id": name_or_id}, query={}, org=org
    )
    return invoke("journeys", event)


def listing(org: str = "org-a", **query: str) -> ApiResult:
    return invoke("journeys", api_event("journeys/list-journeys", query=query, org=org))


def versions(name_or_id: str, org: str = "org-a") -> ApiResult:
    event = api_event(
        "journeys/list-journey-versions", path_params={"name_or_id": name_or_id}, org=org
    )
    return invoke("journeys", event)


# -- save ------------------------------------------------------------------------------------


def test_save_returns_version_1_with_derived_fields_in_one_call(ddb_calls: Counter[str]) -> None:
    result = save(tags=["diabetes", "chronic-care"])

    assert result.status == 201
    record = result.body
    assert re.fullmatch(r"journey-[0-9a-f]{8}", record["id"])
    assert record["version"] == 1
    assert record["event_count"] == 3
    assert record["duration_days"] == 365
    assert record["products"] == ["patientsim", "membersim"]  # from the spec
    assert record["description"] == "spec description"  # from the spec
    assert record["tags"] == ["diabetes", "chronic-care"]
    assert record["journey_spec"] == SPEC
    assert sum(ddb_calls.values()) == 1


def test_save_defaults_products_to_patientsim_and_body_fields_win() -> None:
    spec = {"events": [{"event_id": "only"}]}
    assert save("a", journey_spec=spec).body["products"] == ["patientsim"]
    record = save("b", products=["rxmembersim"], description="mine").body
    assert record["products"] == ["rxmembersim"]
    assert record["description"] == "mine"


def test_duplicate_name_is_409_and_the_first_stays() -> None:
    first = save(description="first").body
    again = save(description="second")
    assert again.status == 409
    assert "already exists" in again.body["message"]
    assert load("diabetic").body["description"] == "first"
    assert load("diabetic").body["id"] == first["id"]


def test_same_name_in_two_organizations_is_two_journeys() -> None:
    assert save(org="org-a").status == 201
    assert save(org="org-b").status == 201


@pytest.mark.parametrize(
    ("body_change", "field"),
    [
        (
            {
                "journey_spec": {
                    "events": [{"event_id": "v", "delay": {"min_days": -1, "max_days": 3}}]
                }
            },
            "journey_spec.events.0.delay.min_days",
        ),
        (
            {
                "journey_spec": {
                    "events": [{"event_id": "v", "delay": {"min_days": 5, "max_days": 3}}]
                }
            },
            "journey_spec.events.0.delay",
        ),
        (
            {"journey_spec": {"events": [{"event_id": "v", "delay": {"days": -2}}]}},
            "journey_spec.events.0.delay.days",
        ),
        (
            {
                "journey_spec": {
                    "events": [
                        {"event_id": "v", "delay": {"days": 5, "days_min": 6, "days_max": 9}}
                    ]
                }
            },
            "journey_spec.events.0.delay",
        ),
        (
            {"journey_spec": {"events": [{"event_id": "a", "depends_on": "ghost"}]}},
            "journey_spec.events",
        ),
        (
            {
                "journey_spec": {
                    "events": [
                        {"event_id": "a", "depends_on": "b"},
                        {"event_id": "b", "depends_on": "a"},
                    ]
                }
            },
            "journey_spec.events",
        ),
        ({"journey_spec": {"description": "nothing to do"}}, "journey_spec"),
        (
            {"journey_spec": {"stages": ["A", "B"], "initial_stage": "C"}},
            "journey_spec.initial_stage",
        ),
        (
            {"journey_spec": {"stages": ["A", "B"], "transitions": {"A": ["Z"]}}},
            "journey_spec.transitions",
        ),
        ({"journey_spec": {"stages": ["A"], "locked_stages": ["X"]}}, "journey_spec.locked_stages"),
        (
            {"journey_spec": {"stages": ["A"], "guards": {"Q": {"requires_events": ["P"]}}}},
            "journey_spec.guards",
        ),
        (
            {
                "journey_spec": {
                    "stages": ["A"],
                    "stale_rules": [{"stage": "B", "max_hours": 4, "action": "x"}],
                }
            },
            "journey_spec.stale_rules",
        ),
        (
            {
                "journey_spec": {
                    "stages": ["A"],
                    "stale_rules": [{"stage": "A", "max_hours": 0, "action": "x"}],
                }
            },
            "journey_spec.stale_rules.0.max_hours",
        ),
        ({"name": "bad#name"}, "name"),
        ({"name": "café"}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"colour": "blue"}, "colour"),
        ({"tags": "diabetes"}, "tags"),
    ],
)
def test_invalid_definitions_are_422_naming_the_field_and_nothing_is_written(
    body_change: dict[str, Any], field: str
) -> None:
    body = {"name": "broken", "journey_spec": SPEC, **body_change}

    result = invoke("journeys", api_event("journeys/save-journey", body=body, org="org-a"))

    assert result.status == 422, result.body
    assert field in result.body["message"], result.body["message"]
    assert listing().body["items"] == []


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("{not json", 422),
        ("", 422),
        ("[]", 422),
        (b"\xff\xfe\x00garbage", 400),
        (
            '{"name": "big", "journey_spec": {"events": [{"event_id": "a", "name": "'
            + "x" * (300 * 1024)
            + '"}]}}',
            413,
        ),
    ],
)
def test_malformed_bodies_are_4xx_with_a_message(raw: str | bytes, status: int) -> None:
    result = invoke("journeys", api_event("journeys/save-journey", raw_body=raw, org="org-a"))
    assert result.status == status
    assert result.body["message"]
    assert listing().body["items"] == []


def _nested(levels: int) -> str:
    return '{"n": ' * levels + "1" + "}" * levels


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        # Each of these answered 500 (or stored null for the number) before the contract tier
        # found them: the parser recursed, pydantic could not serialize, infinity became null.
        ("[" * 5000 + "]" * 5000, "nested more than 64 levels"),
        (
            '{"name": "deep", "journey_spec": {"events": []}, "metadata": ' + _nested(300) + "}",
            "nested more than 64 levels",
        ),
        (
            '{"name": "huge", "journey_spec": {"events": []}, "metadata": {"n": 1e400}}',
            "1e400 is too large a number",
        ),
        (
            '{"name": "nan", "journey_spec": {"events": []}, "metadata": {"n": NaN}}',
            "NaN is not a JSON number",
        ),
        (
            '{"name": "digits", "journey_spec": {"events": []}, "metadata": {"n": '
            + "9" * 5000
            + "}}",
            "digits",
        ),
    ],
    ids=["5000-deep", "metadata-300-deep", "1e400", "NaN", "5000-digit-integer"],
)
def test_bodies_json_cannot_carry_safely_are_422_naming_why(raw: str, problem: str) -> None:
    # Given a body that is JSON-like but too deep, non-finite or too long a number
    # When it is sent to save a journey
    result = invoke("journeys", api_event("journeys/save-journey", raw_body=raw, org="org-a"))

    # Then it is refused as invalid JSON, saying why, and nothing is written
    assert result.status == 422, result.body
    assert problem in result.body["message"], result.body["message"]
    assert listing().body["items"] == []


@pytest.mark.parametrize(
    "content_type", ["multipart/form-data", "multipart/form-data; boundary=x", "text/plain"]
)
def test_a_body_declared_as_anything_but_json_is_415(content_type: str) -> None:
    # Given a JSON body sent with another Content-Type (multipart without a boundary was a 500)
    event = api_event("journeys/save-journey", org="org-a")
    event["headers"]["content-type"] = content_type

    result = invoke("journeys", event)

    assert result.status == 415, result.body
    assert result.body == {
        "statusCode": 415,
        "message": "the body must be JSON (Content-Type: application/json)",
        "code": "unsupported_media_type",
    }
    assert listing().body["items"] == []


# -- load and versions -----------------------------------------------------------------------


def test_load_by_name_and_by_id_each_one_call(ddb_calls: Counter[str]) -> None:
    record = save().body
    ddb_calls.clear()
    assert load("diabetic").body == record
    assert sum(ddb_calls.values()) == 1
    ddb_calls.clear()
    assert load(record["id"]).body == record
    assert sum(ddb_calls.values()) == 1


def test_every_version_stays_readable_and_versions_list_newest_first() -> None:
    save()
    update("diabetic", {"description": "v2"})
    update("diabetic", {"journey_spec": {"events": [{"event_id": "only"}]}})

    assert load("diabetic").body["version"] == 3
    assert load("diabetic").body["duration_days"] is None  # the new spec has none
    assert load("diabetic", version="1").body["description"] == "spec description"
    assert load("diabetic", version="2").body["description"] == "v2"
    assert load("diabetic", version="2").body["event_count"] == 3
    assert [v["version"] for v in versions("diabetic").body["items"]] == [3, 2, 1]
    missing = load("diabetic", version="9")
    assert missing.status == 404
    assert load("diabetic", version="0").status == 422


def test_unknown_journey_is_404_on_every_route() -> None:
    assert load("nope").status == 404
    assert load("journey-0badc0de").status == 404
    assert versions("nope").status == 404
    assert update("nope", {"description": "x"}).status == 404
    assert delete("nope").status == 404


# -- update ----------------------------------------------------------------------------------


def test_update_bumps_version_keeps_omitted_fields_and_replaces_tags(
    ddb_calls: Counter[str],
) -> None:
    save(tags=["a", "b"], metadata={"owner": "team-1"})
    ddb_calls.clear()

    result = update("diabetic", {"tags": ["c"]})

    assert result.status == 200
    record = result.body
    assert record["version"] == 2
    assert record["tags"] == ["c"]
    assert record["metadata"] == {"owner": "team-1"}
    assert record["description"] == "spec description"
    assert record["updated_at"] > record["created_at"]
    assert sum(ddb_calls.values()) <= 2
    assert "Scan" not in ddb_calls


def test_a_new_spec_is_a_new_version_with_recomputed_derived_fields() -> None:
    save()
    new_spec = {"duration_days": 30, "events": [{"event_id": "one"}]}
    refused = update("diabetic", {"journey_spec": new_spec, "bump_version": False})
    record = update("diabetic", {"journey_spec": new_spec}).body
    assert refused.status == 422
    assert record["version"] == 2
    assert record["event_count"] == 1
    assert record["duration_days"] == 30
    assert load("diabetic", version="2").body["event_count"] == 1
    assert load("diabetic", version="1").body["event_count"] != 1


def test_update_rejects_invalid_spec_and_keeps_the_old_one() -> None:
    save()
    bad = update("diabetic", {"journey_spec": {"events": [{"event_id": "a", "depends_on": "a"}]}})
    assert bad.status == 422
    assert load("diabetic").body["version"] == 1


# -- delete ----------------------------------------------------------------------------------


def test_delete_is_204_then_404_and_the_name_is_free_again() -> None:
    first = save().body
    update("diabetic", {"description": "v2"})

    assert delete("diabetic").status == 204
    assert load("diabetic").status == 404
    assert delete(first["id"]).status == 404

    second = save().body
    assert second["version"] == 1
    assert [v["version"] for v in versions("diabetic").body["items"]] == [1]


# -- list ------------------------------------------------------------------------------------


def test_list_newest_update_first_with_filters_applied_before_the_limit() -> None:
    save("cardiac-rehab", tags=["cardiac"], products=["patientsim"], description="Heart")
    for i in range(12):
        save(f"filler-{i:02d}", tags=["other"], products=["membersim"])
    save("diabetes-care", tags=["diabetes"], products=["rxmembersim"])
    update("cardiac-rehab", {"description": "Heart rehab, updated last"})

    everything = listing(limit="50").body["items"]
    assert everything[0]["name"] == "cardiac-rehab"
    assert everything[1]["name"] == "diabetes-care"
    assert "journey_spec" not in everything[0]
    assert everything[0]["execution_count"] == 0
    assert everything[0]["last_executed"] is None

    tagged = listing(tags="cardiac,diabetes", limit="2").body
    assert [j["name"] for j in tagged["items"]] == ["cardiac-rehab", "diabetes-care"]
    assert tagged["next_cursor"] is None
    by_product = listing(products="rxmembersim,unknown").body["items"]
    assert [j["name"] for j in by_product] == ["diabetes-care"]
    assert [j["name"] for j in listing(search="HEART REHAB").body["items"]] == ["cardiac-rehab"]
    assert [j["name"] for j in listing(search="FILLER-07").body["items"]] == ["filler-07"]
    both = listing(search="care", tags="diabetes").body["items"]
    assert [j["name"] for j in both] == ["diabetes-care"]


def test_cursor_walks_every_journey_once_newest_first() -> None:
    names = [f"j-{i:02d}" for i in range(23)]
    for name in names:
        save(name)

    journeys, pages = all_pages(listing, limit="10")
    assert [j["name"] for j in journeys] == list(reversed(names))
    assert pages == 3


def test_a_page_is_one_query_not_one_call_per_journey(ddb_calls: Counter[str]) -> None:
    for i in range(30):
        save(f"j-{i:02d}")
    ddb_calls.clear()

    assert len(listing(limit="25").body["items"]) == 25

    assert dict(ddb_calls) == {"Query": 1}


@pytest.mark.parametrize("cursor", ["garbage", "e30", "eyJwayI6IDF9"])
def test_a_forged_cursor_is_422(cursor: str) -> None:
    save()
    assert listing(cursor=cursor).status == 422


def test_another_organizations_cursor_is_refused() -> None:
    for i in range(3):
        save(f"j-{i}", org="org-a")
    cursor = listing(org="org-a", limit="1").body["next_cursor"]
    assert cursor
    result = listing(org="org-b", cursor=cursor)
    assert result.status == 422


@pytest.mark.parametrize("query", [{"limit": "0"}, {"limit": "201"}, {"limit": "many"}])
def test_bad_list_parameters_are_422(query: dict[str, str]) -> None:
    assert listing(**query).status == 422


# -- tenants and roles -----------------------------------------------------------------------


def test_another_organizations_journey_is_invisible() -> None:
    record = save(org="org-a").body

    assert load("diabetic", org="org-b").status == 404
    assert load(record["id"], org="org-b").status == 404
    assert versions("diabetic", org="org-b").status == 404
    assert update("diabetic", {"description": "hijack"}, org="org-b").status == 404
    assert delete("diabetic", org="org-b").status == 404
    assert listing(org="org-b").body["items"] == []
    assert load("diabetic").body == record


def test_writing_needs_admin_reading_any_signed_in_user() -> None:
    save()
    staff_save = invoke(
        "journeys",
        api_event(
            "journeys/save-journey", body={"name": "x", "journey_spec": SPEC}, roles="[staff]"
        ),
    )
    assert staff_save.status == 403
    reader = api_event(
        "journeys/load-journey", path_params={"name_or_id": "diabetic"}, org="org-a", roles=""
    )
    assert invoke("journeys", reader).status == 200
    for sample, params in [
        ("journeys/update-journey", {"name_or_id": "diabetic"}),
        ("journeys/delete-journey", {"name_or_id": "diabetic"}),
    ]:
        event = api_event(sample, path_params=params, org="org-a", roles="[staff]")
        assert invoke("journeys", event).status == 403
    assert invoke("journeys", api_event("journeys/import-builtin", roles="staff")).status == 403


def test_a_token_without_an_organization_is_403() -> None:
    event = api_event("journeys/list-journeys", org="")
    result = invoke("journeys", event)
    assert result.status == 403
    assert "organization" in result.body["message"]


# -- built-ins -------------------------------------------------------------------------------


def test_import_builtin_imports_missing_ones_once_tagged_builtin() -> None:
    from journeys_core.builtins import load_builtin_journeys

    expected = {b["name"] for b in load_builtin_journeys()}
    save("diabetic-first-year")  # already present: kept, not overwritten

    first = invoke("journeys", api_event("journeys/import-builtin", org="org-a"))
    second = invoke("journeys", api_event("journeys/import-builtin", org="org-a"))

    assert first.status == 200
    assert first.body["imported"] == len(expected) - 1
    assert second.body["imported"] == 0
    builtin = listing(tags="builtin", limit="100").body["items"]
    assert {j["name"] for j in builtin} == expected - {"diabetic-first-year"}
    assert load("diabetic-first-year").body["description"] == "spec description"
    onboarding = load("new-member-onboarding").body
    assert set(onboarding["products"]) == {"membersim", "patientsim", "rxmembersim"}
    retreat = load("retreat_ibiza_2025").body["journey_spec"]
    assert "BLOCKED_HIGH_RISK" in retreat["locked_stages"]
