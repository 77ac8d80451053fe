"""The journey log's hash chain (pure): an entry's hash survives being stored and read back,
changes with any field, and a walk names the first entry that does not hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from journeys_core.data.journey_log import entry_from_item, log_item
from journeys_core.domain.log_chain import chain_entry, content_hash, verify_chain
from journeys_core.models.patient import Enrollment, JourneyLogEntry

T0 = datetime(2026, 11, 21, 10, 0, 0, 125000, tzinfo=UTC)


def chained(count: int) -> tuple[list[JourneyLogEntry], Enrollment]:
    enrollment: Enrollment | None = None
    entries = []
    for n in range(count):
        at = T0 + timedelta(hours=n)
        moved = Enrollment(
            journey_key="care",
            stage=f"S{n}",
            entered_at=at,
            enrolled_at=T0,
            version=n + 1,
            definition_version=1,
        )
        entry = JourneyLogEntry(
            id=f"jlog-{n}",
            organization_id="org-a",
            patient_id="p-1",
            journey_key="care",
            from_stage=f"S{n - 1}" if n else None,
            to_stage=f"S{n}",
            changed_at=at,
            actor="nurse",
            reason="ñandú 🦤" if n == 1 else None,
            definition_version=1,
            from_entered_at=enrollment.entered_at if enrollment else None,
        )
        sealed, enrollment = chain_entry(entry, moved, enrollment)
        entries.append(sealed)
    assert enrollment is not None
    return entries, enrollment


def test_a_stored_entry_read_back_has_the_hash_it_was_written_with() -> None:
    entries, _ = chained(3)
    for entry in entries:
        back = entry_from_item(log_item(entry))
        assert back == entry
        assert content_hash(back) == entry.entry_hash


def test_each_entry_names_the_previous_hash_and_the_enrollment_keeps_the_last() -> None:
    entries, enrollment = chained(4)

    assert entries[0].previous_hash is None
    assert [e.previous_hash for e in entries[1:]] == [e.entry_hash for e in entries[:-1]]
    assert enrollment.log_hash == entries[-1].entry_hash
    assert verify_chain(entries, enrollment.log_hash).valid


def test_any_changed_field_changes_the_hash() -> None:
    (entry,), _ = chained(1)
    for change in ({"actor": "x"}, {"changed_at": T0 + timedelta(microseconds=1)}, {"reason": "y"}):
        assert content_hash(entry.model_copy(update=change)) != entry.entry_hash


def test_a_walk_stops_at_the_first_entry_that_does_not_hold() -> None:
    entries, enrollment = chained(5)
    edited = [*entries]
    edited[3] = entries[3].model_copy(update={"reason": "edited"})
    skipped = [*entries[:2], *entries[3:]]

    content = verify_chain(edited, enrollment.log_hash).first_invalid
    link = verify_chain(skipped, enrollment.log_hash).first_invalid
    anchor = verify_chain(entries[:-1], enrollment.log_hash).first_invalid

    assert content is not None and (content.entry_id, content.problem) == ("jlog-3", "content")
    assert link is not None and (link.entry_id, link.position, link.problem) == (
        "jlog-3",
        3,
        "link",
    )
    assert anchor is not None and (anchor.entry_id, anchor.problem) == ("jlog-3", "anchor")
