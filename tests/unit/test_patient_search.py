"""How names and emails are keyed for search: what a coordinator types finds the patient."""

from __future__ import annotations

import pytest

from journeys_core.domain.patient_search import (
    is_email_search,
    name_sort_key,
    normalized_email,
    normalized_name,
)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("jose", "José Álvarez"),
        ("JOSÉ Á", "José Álvarez"),
        ("nunez", "Núñez, María"),
        ("jose luis", "José-Luis  Pérez"),
        ("francois", "François"),
        ("strasse", "Straße"),
    ],
)
def test_a_typed_prefix_matches_the_stored_name_whatever_case_accents_or_spacing(
    typed: str, stored: str
) -> None:
    assert name_sort_key(stored, "p-1").startswith(normalized_name(typed))


def test_a_name_never_runs_into_the_patient_id() -> None:
    # "ana" must not find "Ana" through the id that follows it, nor "Anabel" find "Ana"
    assert name_sort_key("Ana", "bel-1") == "ana#bel-1"
    assert not name_sort_key("Ana", "bel-1").startswith("anabel")
    assert normalized_name("!!  ") == ""


def test_an_at_sign_makes_an_email_search_kept_exact_but_case_aside() -> None:
    assert is_email_search("Ana.Ruiz@Example.org")
    assert not is_email_search("Ana Ruiz")
    assert normalized_email("  Ana.Ruiz@Example.ORG ") == "ana.ruiz@example.org"
