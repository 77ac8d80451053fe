"""The stale-journey monitor's rules (pure: no AWS).

A definition's ``stale_rules`` say how long a patient may stand in a stage before the service
reacts: ``{stage, max_hours, action, email_subject}``. The monitor watches every (organization,
journey, stage) that has rules, reads only the enrollments that entered the stage before the
cutoff (``now - max_hours``), and emits one ``JOURNEY_STAGE_TIMEOUT`` per stuck (patient,
journey, stage) at most once every 24 hours.

- **Stuck** means ``entered_at < now - max_hours`` (strictly older than the rule allows).
- **Pinned versions**: an enrollment is timed out by the rules of the version it follows
  (``definition_version``): a rule a later version added does not reach it, one a later
  version dropped still does. An enrollment whose episode ended (a final stage) is not stuck.
- **Several rules on one stage** (a reminder at 48 h, an escalation at 96 h): the enrollment is
  read with the shortest cutoff and gets the rule with the longest ``max_hours`` it has passed.
- **Email**: a timeout sends an email when its action starts with ``send_`` or ``request_``
  (``send_payment_reminder``, ``request_birth_data``); any other action (``alert_stagnation``)
  is for automation rules only. The notifier's EventBridge rule in ``template.yaml`` filters on
  the same prefixes.
- **The 24-hour gate** is one item per (patient, journey, stage): it remembers the stay
  (``entered_at``) it last fired for and when; a new stay starts the clock again. A claim that
  was never confirmed as published (the run died in between) may be taken again after
  ``CLAIM_LEASE``, with the same event id, so a timeout is never lost and consumers can
  deduplicate on ``event_id``.
- **Now** is the scheduled event's ``time``, so any moment can be replayed.
"""

from __future__ import annotations

import secrets
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from journeys_core.clock import format_timestamp

TIMEOUT_EVENT_TYPE = "JOURNEY_STAGE_TIMEOUT"
EMAIL_ACTION_PREFIXES = ("send_", "request_")
TIMEOUT_WINDOW = timedelta(hours=24)
# Longer than any Lambda run (15 minutes at most): a claim older than this whose timeout was
# never confirmed as published belongs to a run that died, and may be taken over.
CLAIM_LEASE = timedelta(minutes=15)
PUT_EVENTS_BATCH = 10  # EventBridge PutEvents takes at most 10 entries
GATE_READ_BATCH = 100  # BatchGetItem takes at most 100 keys

T = TypeVar("T")


@dataclass(frozen=True)
class TimeoutRule:
    max_hours: float
    action: str
    email_subject: str | None = None

    @property
    def age(self) -> timedelta:
        return timedelta(hours=self.max_hours)


@dataclass(frozen=True)
class StageWatch:
    """Every stale rule of one (organization, journey, stage), per version of the journey
    that has rules there, shortest ``max_hours`` first: an enrollment is timed out by the
    rules of the version it is pinned to, never by another version's."""

    org: str
    journey_key: str
    stage: str
    rules: Mapping[int, tuple[TimeoutRule, ...]]

    @property
    def position(self) -> tuple[str, str, str]:
        """Where the watch stands in a run's fixed order (runs resume from a position)."""
        return (self.org, self.journey_key, self.stage)

    @property
    def label(self) -> str:
        """``journey.STAGE``, as ``rules_triggered`` counts it."""
        return f"{self.journey_key}.{self.stage}"

    def cutoff(self, now: datetime) -> datetime:
        """Enrollments that entered the stage before this are stuck (for the shortest rule of
        any version: which version each follows is known only once it is read)."""
        return now - min(rules[0].age for rules in self.rules.values())

    def rule_for(self, entered_at: datetime, version: int, now: datetime) -> TimeoutRule | None:
        """The rule of ``version`` with the longest ``max_hours`` that the stay has passed;
        None when that version has no rule on the stage or the stay has passed none."""
        passed = [r for r in self.rules.get(version, ()) if is_stuck(entered_at, r.max_hours, now)]
        return passed[-1] if passed else None


def is_stuck(entered_at: datetime, max_hours: float, now: datetime) -> bool:
    return entered_at < now - timedelta(hours=max_hours)


def hours_stale(entered_at: datetime, now: datetime) -> float:
    """Hours spent in the stage so far, to one decimal."""
    return round((now - entered_at).total_seconds() / 3600, 1)


def sends_email(action: str) -> bool:
    return action.startswith(EMAIL_ACTION_PREFIXES)


def stage_watches(
    versions: Iterable[tuple[str, str, int, Mapping[str, Any]]],
) -> list[StageWatch]:
    """The watches of ``(org, journey_key, version, journey_spec)`` saved versions, in
    position order. Retired journeys never get here: the repository lists active ones."""
    grouped: dict[tuple[str, str, str], dict[int, list[TimeoutRule]]] = {}
    for org, journey_key, version, spec in versions:
        for raw in spec.get("stale_rules") or ():
            rule = TimeoutRule(
                max_hours=float(raw["max_hours"]),
                action=str(raw["action"]),
                email_subject=raw.get("email_subject") or None,
            )
            by_version = grouped.setdefault((org, journey_key, str(raw["stage"])), {})
            by_version.setdefault(version, []).append(rule)
    return [
        StageWatch(
            org,
            key,
            stage,
            {
                version: tuple(sorted(rules, key=lambda r: r.max_hours))
                for version, rules in sorted(by_version.items())
            },
        )
        for (org, key, stage), by_version in sorted(grouped.items())
    ]


# -- the run's order, and resuming it ----------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """Where a run stopped: the watch, and the index key of the last enrollment it finished
    (None: the watch from its start)."""

    position: tuple[str, str, str]
    start_key: Mapping[str, Any] | None = None


def plan_watches(
    watches: Sequence[StageWatch], checkpoint: Checkpoint | None
) -> list[tuple[StageWatch, Mapping[str, Any] | None]]:
    """The watches in the order a run reads them, each with the key to start after.

    Without a checkpoint: every watch from its start. With one: a ring starting at the
    checkpoint's watch (after its key), so that a run cut short is continued by the next one
    and the watches at the end of the order are never starved. The part of the checkpoint's
    watch before its key was read by the previous run; anything that became stuck since has
    a later ``entered_at``, so it lies after the key and is read now."""
    ordered = sorted(watches, key=lambda w: w.position)
    if checkpoint is None:
        return [(watch, None) for watch in ordered]
    start = bisect_left([w.position for w in ordered], checkpoint.position)
    ring = ordered[start:] + ordered[:start]
    return [
        (watch, checkpoint.start_key if i == 0 and watch.position == checkpoint.position else None)
        for i, watch in enumerate(ring)
    ]


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- stuck enrollments and their timeouts ------------------------------------------------------


@dataclass(frozen=True)
class StuckEnrollment:
    patient_id: str
    entered_at: datetime
    # The enrollment's key in the stage index: where to resume after it.
    resume_key: Mapping[str, Any]
    definition_version: int
    # Its episode ended (a final stage): the patient is no longer waiting on anything.
    ended: bool = False

    @property
    def entered_at_text(self) -> str:
        return format_timestamp(self.entered_at)


@dataclass(frozen=True)
class StageTimeout:
    event_id: str
    org: str
    patient_id: str
    journey_key: str
    stage: str
    entered_at: datetime
    hours_stale: float
    action: str
    email_subject: str | None

    def payload(self) -> dict[str, Any]:
        """What the system event records."""
        return {
            "patient_id": self.patient_id,
            "journey_key": self.journey_key,
            "stage": self.stage,
            "hours_stale": self.hours_stale,
            "action": self.action,
            "email_subject": self.email_subject,
        }

    def detail(self) -> dict[str, Any]:
        """What the bus carries (DESIGN §5, plus the event id to deduplicate on)."""
        return {"organization_id": self.org, **self.payload(), "event_id": self.event_id}


def new_timeout_event_id() -> str:
    return f"timeout-{secrets.token_hex(12)}"


def stage_timeout(
    watch: StageWatch, enrollment: StuckEnrollment, now: datetime, event_id: str
) -> StageTimeout | None:
    if enrollment.ended:
        return None
    rule = watch.rule_for(enrollment.entered_at, enrollment.definition_version, now)
    if rule is None:
        return None
    return StageTimeout(
        event_id=event_id,
        org=watch.org,
        patient_id=enrollment.patient_id,
        journey_key=watch.journey_key,
        stage=watch.stage,
        entered_at=enrollment.entered_at,
        hours_stale=hours_stale(enrollment.entered_at, now),
        action=rule.action,
        email_subject=rule.email_subject,
    )


# -- the 24-hour gate --------------------------------------------------------------------------

GATE_CLAIMED = "claimed"
GATE_PUBLISHED = "published"


def timeout_gate_is_open(gate: Mapping[str, Any] | None, entered_at: str, now: datetime) -> bool:
    """Whether a claim on the gate would succeed now (the same test as the conditional write,
    used to skip doomed writes and for dry runs; the write alone decides)."""
    if gate is None or gate.get("entered_at") != entered_at:
        return True
    last = str(gate.get("last_emitted_at") or "")
    if last <= format_timestamp(now - TIMEOUT_WINDOW):
        return True
    return gate.get("state") == GATE_CLAIMED and last <= format_timestamp(now - CLAIM_LEASE)


# -- the scheduled event -----------------------------------------------------------------------


def scheduled_time(event: Mapping[str, Any]) -> datetime:
    """ "Now" for a run: the ``time`` of the EventBridge (Scheduler) event that started it."""
    raw = event.get("time") if isinstance(event, Mapping) else None
    if not isinstance(raw, str) or not raw:
        raise ValueError("the scheduled event carries no 'time' (see events/stale_monitor/)")
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as error:
        raise ValueError(f"the scheduled event's time {raw!r} is not an ISO 8601 time") from error
    if moment.tzinfo is None:
        raise ValueError(f"the scheduled event's time {raw!r} has no time zone")
    return moment.astimezone(UTC)
