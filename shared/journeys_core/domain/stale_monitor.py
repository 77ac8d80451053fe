"""The stale-journey monitor's rules (pure: no AWS).

A definition's ``stale_rules`` say how long a patient may stand in a stage before the service
reacts: ``{stage, max_hours, action, email_subject, backoff_hours}``. The monitor watches
every (organization, journey, stage) that has rules in some version, reads only the
enrollments that entered the stage before the cutoff (``now - max_hours``), and emits
``JOURNEY_STAGE_TIMEOUT`` for each stuck (patient, journey, stage) stay, at most once every
24 hours and then less and less often.

- **Units**: the work of one run is split into independent units, one per watched
  (organization, journey, stage[, index shard]); each is read on its own, keeps its own
  resume position, and a failing one never holds back the others.
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
- **The gate** is one item per (patient, journey, stage): the stay (``entered_at``) it last
  fired for, when, under which rule, and how many times. A stay fires when it passes a rule,
  then again after each of the rule's ``backoff_hours`` (default 24, 72 and 168 hours: a
  day, three days, a week), then no more; never twice within 24 hours. A longer rule starts
  its own series (24 hours after the last timeout at the earliest); a new stay starts again.
  A claim that was never confirmed as published (the run died in between) may be taken
  again after ``CLAIM_LEASE``, with the same event id, so a timeout is never lost and
  consumers can deduplicate on ``event_id``.
- **Now** is the scheduled event's ``time``, so any moment can be replayed.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from journeys_core.clock import format_timestamp
from journeys_core.models.journey import stage_index_shards

TIMEOUT_EVENT_TYPE = "JOURNEY_STAGE_TIMEOUT"
EMAIL_ACTION_PREFIXES = ("send_", "request_")
TIMEOUT_WINDOW = timedelta(hours=24)
# Longer than any Lambda run (15 minutes at most): a claim older than this whose timeout was
# never confirmed as published belongs to a run that died, and may be taken over.
CLAIM_LEASE = timedelta(minutes=15)
PUT_EVENTS_BATCH = 10  # EventBridge PutEvents takes at most 10 entries
GATE_READ_BATCH = 100  # BatchGetItem takes at most 100 keys
# A stay still stuck fires again a day, three days and a week after, then stops.
DEFAULT_BACKOFF_HOURS: tuple[float, ...] = (24, 72, 168)

T = TypeVar("T")


@dataclass(frozen=True)
class TimeoutRule:
    max_hours: float
    action: str
    email_subject: str | None = None
    # The waits between one timeout of a stay and the next (each at least 24 hours).
    backoff_hours: tuple[float, ...] = DEFAULT_BACKOFF_HOURS

    @property
    def age(self) -> timedelta:
        return timedelta(hours=self.max_hours)

    def as_json(self) -> dict[str, Any]:
        return {
            "max_hours": self.max_hours,
            "action": self.action,
            "email_subject": self.email_subject,
            "backoff_hours": list(self.backoff_hours),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> TimeoutRule:
        backoff = raw.get("backoff_hours")
        return cls(
            max_hours=float(raw["max_hours"]),
            action=str(raw["action"]),
            email_subject=raw.get("email_subject") or None,
            backoff_hours=DEFAULT_BACKOFF_HOURS
            if backoff is None
            else tuple(float(h) for h in backoff),
        )


def refire_gap(rule: TimeoutRule, fires: int) -> timedelta | None:
    """How long after the ``fires``-th timeout of a stay under ``rule`` the next one may
    come; None once the back-off is spent (the stay fires no more under this rule). The one
    schedule the monitor's gate and the simulator both follow."""
    if fires < 1 or fires > len(rule.backoff_hours):
        return None
    return timedelta(hours=rule.backoff_hours[fires - 1])


@dataclass(frozen=True)
class StageWatch:
    """One unit of a monitor run: every stale rule of one (organization, journey, stage), per
    version of the journey that has rules there, shortest ``max_hours`` first (an enrollment
    is timed out by the rules of the version it is pinned to, never by another version's);
    ``shard``, when the stage index is written in shards, is the one shard it reads."""

    org: str
    journey_key: str
    stage: str
    rules: Mapping[int, tuple[TimeoutRule, ...]]
    shard: int | None = None

    @property
    def unit_id(self) -> str:
        """The unit's name: its resume position is kept under it."""
        unit = f"{self.org}#{self.journey_key}#{self.stage}"
        return unit if self.shard is None else f"{unit}#{self.shard}"

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
    (org, journey, stage) order. Retired journeys never get here: the repository lists
    active ones."""
    grouped: dict[tuple[str, str, str], dict[int, list[TimeoutRule]]] = {}
    # A journey's stage index shard count only grows from version to version: the largest
    # one keys every enrollment. A sharded stage is watched as one unit per shard.
    shards: dict[tuple[str, str], int] = {}
    for org, journey_key, version, spec in versions:
        count = stage_index_shards(spec)
        shards[(org, journey_key)] = max(shards.get((org, journey_key), 1), count)
        for raw in spec.get("stale_rules") or ():
            by_version = grouped.setdefault((org, journey_key, str(raw["stage"])), {})
            by_version.setdefault(version, []).append(TimeoutRule.from_json(raw))
    return [
        StageWatch(
            org,
            key,
            stage,
            {
                version: tuple(sorted(rules, key=lambda r: r.max_hours))
                for version, rules in sorted(by_version.items())
            },
            shard,
        )
        for (org, key, stage), by_version in sorted(grouped.items())
        for shard in _shards(shards[(org, key)])
    ]


def _shards(count: int) -> list[int | None]:
    return [None] if count == 1 else list(range(count))


# -- units on the work queue -------------------------------------------------------------------


@dataclass(frozen=True)
class UnitMessage:
    """What the planner hands a worker: the unit, the run's "now", and where to start (a
    continuation of a unit that ran short of time; None: from its start)."""

    watch: StageWatch
    now: datetime
    start_key: Mapping[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        watch = self.watch
        return {
            "at": format_timestamp(self.now),
            "org": watch.org,
            "journey_key": watch.journey_key,
            "stage": watch.stage,
            "shard": watch.shard,
            "rules": {
                str(version): [rule.as_json() for rule in rules]
                for version, rules in watch.rules.items()
            },
            "start_key": dict(self.start_key) if self.start_key else None,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> UnitMessage:
        """A message the planner (or a cut-short worker) wrote; ValueError for anything else."""
        try:
            watch = StageWatch(
                org=str(raw["org"]),
                journey_key=str(raw["journey_key"]),
                stage=str(raw["stage"]),
                rules={
                    int(version): tuple(TimeoutRule.from_json(r) for r in rules)
                    for version, rules in raw["rules"].items()
                },
                shard=None if raw.get("shard") is None else int(raw["shard"]),
            )
            now = datetime.fromisoformat(str(raw["at"]))
        except (KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"not a stale-monitor unit: {error!r}") from error
        if not watch.rules or now.tzinfo is None:
            raise ValueError("not a stale-monitor unit: no rules, or a time without a zone")
        return cls(watch, now, raw.get("start_key") or None)


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
    # The rule it comes from (its back-off decides when the stay fires next).
    rule: TimeoutRule

    @property
    def entered_at_text(self) -> str:
        return format_timestamp(self.entered_at)

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
        rule=rule,
    )


# -- the gate: at most one timeout per 24 hours, backing off -----------------------------------

GATE_CLAIMED = "claimed"
GATE_PUBLISHED = "published"


@dataclass(frozen=True)
class GateClaim:
    """A timeout the gate lets through now: the stay's count of timeouts under ``rule_hours``
    once it is out, and the event id of a claim taken over (kept: it may have got out)."""

    fires: int
    rule_hours: float
    event_id: str | None = None


def gate_claim(
    gate: Mapping[str, Any] | None, entered_at: str, rule: TimeoutRule, now: datetime
) -> GateClaim | None:
    """Whether the stay (``entered_at``), stuck past ``rule``, fires now, given its gate as
    stored (None: never opened). The claim's conditional write then checks the gate is
    still as read, so of overlapping runs exactly one wins."""
    if gate is None or gate.get("entered_at") != entered_at or not gate.get("last_emitted_at"):
        return GateClaim(fires=1, rule_hours=rule.max_hours)
    last = str(gate["last_emitted_at"])
    fires = int(gate.get("fires") or 1)  # gates from before the back-off fired once
    rule_hours = float(gate.get("rule_hours") or rule.max_hours)
    if gate.get("state") == GATE_CLAIMED and last <= format_timestamp(now - CLAIM_LEASE):
        event_id = gate.get("event_id")
        return GateClaim(fires, rule_hours, str(event_id) if event_id else None)
    if last > format_timestamp(now - TIMEOUT_WINDOW):
        return None
    if rule_hours != rule.max_hours:  # a longer rule applies now: its own series begins
        return GateClaim(fires=1, rule_hours=rule.max_hours)
    gap = refire_gap(rule, fires)
    if gap is None or last > format_timestamp(now - gap):
        return None
    return GateClaim(fires=fires + 1, rule_hours=rule_hours)


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
