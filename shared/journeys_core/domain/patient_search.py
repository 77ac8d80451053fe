"""How a patient is found by name or email: the keys a profile is stored under and the one
a search term reads. Plain functions, no AWS.

A name is searched by prefix, whatever its case or accents ("jose" finds "José Álvarez"),
so the profile keeps a normalized copy as the index's sort key. An email is searched
exactly (case-insensitive): a term with an ``@`` is an email, anything else a name.
"""

from __future__ import annotations

import unicodedata

MAX_SEARCH_CHARS = 200
# Between the name and the patient id in the sort key: the name's normalized form never
# holds it (only letters, digits and single spaces), so a prefix never crosses it.
NAME_TERMINATOR = "#"


def normalized_name(name: str) -> str:
    """Lower case without accents, punctuation or repeated spaces: "  José-Luis  Ñúñez" is
    "jose luis nunez". Letters without an ASCII form (Ø, ß) keep their case-folded form."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    kept = "".join(
        char if char.isalnum() else " " for char in decomposed if not unicodedata.combining(char)
    )
    return " ".join(kept.split())


def is_email_search(term: str) -> bool:
    return "@" in term


def normalized_email(email: str) -> str:
    return email.strip().casefold()


def name_sort_key(name: str, patient_id: str) -> str:
    """The profile's sort key in the name index: unique per patient, ordered by name."""
    return f"{normalized_name(name)}{NAME_TERMINATOR}{patient_id}"
