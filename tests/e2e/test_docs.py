"""``/docs`` in a real headless browser (Debian's Chromium, driven by Playwright) against the
local stack: Swagger UI renders every operation of docs/openapi.json under its tag, and a
call made from the page with a token reaches the API. Chromium as in test_dashboard.py."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local_stack.tokens import make_token
from tests.e2e.conftest import REPO_ROOT, LocalStack
from tests.e2e.test_dashboard import browser, page  # noqa: F401 - fixtures

pytestmark = pytest.mark.e2e

DOCUMENT = json.loads((REPO_ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
OPERATIONS = [
    (method, path, operation)
    for path, operations in DOCUMENT["paths"].items()
    for method, operation in operations.items()
]


def test_docs_render_every_operation_under_its_tag(
    page: Any,  # noqa: F811 - the fixture imported above
    local_stack: LocalStack,
) -> None:
    from playwright.sync_api import expect

    # When someone opens the docs
    page.goto(f"{local_stack.base_url}/docs")

    # Then the document's title and each tag show, and no "Unable to render this definition"
    expect(page.get_by_role("heading", name=DOCUMENT["info"]["title"])).to_be_visible()
    for tag in DOCUMENT["tags"]:
        expect(page.locator(f'[data-tag="{tag["name"]}"]')).to_be_visible()
    expect(page.get_by_text("Unable to render this definition")).to_have_count(0)

    # And every operation is a block with its method, path and summary, found by its id
    expect(page.locator(".opblock")).to_have_count(len(OPERATIONS))
    for method, path, operation in OPERATIONS:
        # Swagger UI's deep-link id: the tag with spaces as underscores, then the operationId.
        tag = operation["tags"][0].replace(" ", "_")
        block = page.locator(f'[id="operations-{tag}-{operation["operationId"]}"]')
        expect(block).to_be_visible()
        expect(block.locator(".opblock-summary-method")).to_have_text(method.upper())
        expect(block.locator(".opblock-summary-path")).to_have_attribute("data-path", path)
        expect(block.locator(".opblock-summary-description")).to_have_text(operation["summary"])


def test_a_call_tried_from_the_docs_reaches_the_api(
    page: Any,  # noqa: F811 - the fixture imported above
    local_stack: LocalStack,
) -> None:
    from playwright.sync_api import expect

    # Given the docs, authorized with a token of the demo organization
    page.goto(f"{local_stack.base_url}/docs")
    page.get_by_role("button", name="Authorize").first.click()
    dialog = page.locator(".modal-ux")
    dialog.locator("#auth-bearer-value").fill(make_token(org="demo", roles=("staff",)))
    dialog.get_by_role("button", name="Apply credentials").click()
    dialog.get_by_role("button", name="Close").click()

    # When they try "List journeys"
    block = page.locator("#operations-Journeys-listJourneys")
    block.locator(".opblock-summary").click()
    block.get_by_role("button", name="Try it out").click()
    block.get_by_role("button", name="Execute").click()

    # Then the page shows the API's 200 and the demo organization's built-in journeys
    live = block.locator(".live-responses-table")
    expect(live.locator("tbody .response-col_status")).to_have_text("200")
    expect(live.locator("tbody")).to_contain_text("retreat_ibiza_2025")
