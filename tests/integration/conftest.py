"""Fixtures of the integration tier (moto, handlers in-process)."""

from __future__ import annotations

import pytest

from tests.support.patients import define_journey


@pytest.fixture
def retreat(aws: None) -> None:
    """The retreat journey (tests/support/patients.RETREAT) saved in org-a."""
    define_journey()
