"""Rehearsing a journey on a synthetic cohort (pure: no AWS, nothing written or sent).

One definition carries a timeline (``events`` with delays, dependencies and probabilities)
and a stage machine. The simulator plays the timeline of each synthetic patient through the
real rules, on a virtual clock in minutes from the start date's midnight (UTC):

* a patient arrives (day ``index // arrivals_per_day``, or day 0) at its own time of day
  (08:00–20:00, drawn from the seed and its id) and is enrolled at the initial stage;
* its timeline comes from :class:`TimelinePlan` (the same draws as ``/timeline``); an event
  with ``trigger`` is the domain event it stands for (``detail`` = ``{organization_id,
  patient_id, event_id, payload}``) and goes through :func:`matching_rules` and each
  matching rule's actions in order; an event with ``move_to`` is a person's move (staff
  offering a place). Events of one day happen a minute apart, in timeline order;
* moves go through :func:`decide_episode_move` (transitions, guards, locked stages;
  automation is never a person; a final stage ends the episode, and a move after that starts
  the next one as ``reentry`` allows); a refused move is counted by its kind;
* the stale rules time out as the hourly monitor does: at the first whole hour strictly
  after ``entered_at + max_hours``, then after each wait of the rule's back-off (24, 72,
  168 hours by default: the gate's own schedule, :func:`refire_gap`) while the stay lasts,
  then no more; a longer rule passed starts its own series; an ended episode has none; each
  timeout is a ``JOURNEY_STAGE_TIMEOUT`` for the rules;
* emails: one per ``send_email`` action, but at most one per timeout (the notifier and the
  rules claim a timeout's email once), and one per timeout whose action sends mail;
* ``emit_event`` puts an event for the same patient right after, as the bus would; past
  :data:`MAX_CHAIN_DEPTH` links it is cut, as the engine does.

Determinism: a patient's course depends only on the seed, its id (``patient-<n>``), its
arrival day and the definition and rules, never on the cohort's size or order, so the same
request gives the same answer byte for byte.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from journeys_core.domain.analytics import JourneyShape, LogPoint, analyse_journey
from journeys_core.domain.automation import MAX_CHAIN_DEPTH, matching_rules
from journeys_core.domain.stage_machine import (
    CurrentStage,
    MoveRefused,
    MoveRequest,
    StageMachine,
    decide_episode_move,
)
from journeys_core.domain.stale_monitor import (
    TIMEOUT_EVENT_TYPE,
    StageTimeout,
    StageWatch,
    StuckEnrollment,
    refire_gap,
    sends_email,
    stage_timeout,
    stage_watches,
)
from journeys_core.domain.timeline import TimelinePlan
from journeys_core.errors import InvalidInput
from journeys_core.models.analytics import Period, ReadCost
from journeys_core.models.automation import (
    TRIGGER_EVENTS,
    AutomationRule,
    EmitEvent,
    SendEmail,
    UpdateJourneyStatus,
)
from journeys_core.models.simulation import (
    Change,
    CohortOutcome,
    Emails,
    Refusal,
    RuleOutcome,
    SimulatedStage,
    StageDiff,
    Timeouts,
)

MINUTES_PER_DAY = 1440
# Work is bounded before it starts (timeline events) and while it runs (events through the
# rules, each some microseconds): past these a request could not answer within 29 seconds.
MAX_TIMELINE_EVENTS = 5_000_000
MAX_RULE_EVALUATIONS = 1_000_000
MONITOR_EVERY = 60  # the stale monitor runs hourly
GATE_MINUTES = 24 * 60  # at most one timeout per (patient, stage) stay every 24 hours
# Every simulated patient follows the one definition rehearsed.
SIMULATED_VERSION = 1
DAY_STARTS, DAY_SPAN = 8 * 60, 12 * 60  # patients act between 08:00 and 20:00
STAFF_REASON = "simulated staff move"
# Timeline events may stand for the triggers the bus routes to the engine; the timeout is
# the monitor's alone.
TIMELINE_TRIGGERS = frozenset(TRIGGER_EVENTS) - {TIMEOUT_EVENT_TYPE}
_TIME_OF_DAY_PERSON = b"journeys.sim.tod"
_MINUTE = timedelta(minutes=1)  # the virtual clock's tick (multiplying one is the quick way)


@dataclass(frozen=True)
class Cohort:
    """What to rehearse: ``rules`` in the order they are reported; ``draft_rules`` True when
    they are reported by index rather than id."""

    journey_key: str
    org: str
    spec: Mapping[str, Any]
    rules: Sequence[AutomationRule]
    cohort_size: int
    seed: int
    start_date: date
    days: int
    arrivals_per_day: int | None = None
    draft_rules: bool = False


@dataclass(frozen=True)
class _Step:
    """What one timeline event does."""

    trigger: str | None
    payload: Mapping[str, Any]
    move_to: str | None


def timeline_steps(spec: Mapping[str, Any], machine: StageMachine) -> dict[str, _Step]:
    """The simulated meaning of each timeline event that has one, by event id; InvalidInput
    for a trigger the engine does not react to or a ``move_to`` outside the stages."""
    steps: dict[str, _Step] = {}
    for event in spec.get("events") or ():
        trigger, move_to = event.get("trigger"), event.get("move_to")
        where = f"journey_spec.events.{event.get('event_id')}"
        if trigger is not None and trigger not in TIMELINE_TRIGGERS:
            raise InvalidInput(
                f"{where}.trigger: {trigger!r} is not a domain event the rules react to "
                f"({', '.join(sorted(TIMELINE_TRIGGERS))})"
            )
        if move_to is not None and move_to not in machine.stages:
            raise InvalidInput(f"{where}.move_to: {move_to!r} is not a stage of the journey")
        if trigger is not None or move_to is not None:
            steps[str(event["event_id"])] = _Step(trigger, event.get("payload") or {}, move_to)
    return steps


def time_of_day(seed: int, patient_id: str) -> int:
    """The minute of the day at which the patient acts (08:00–20:00), from the seed."""
    digest = hashlib.blake2b(
        f"{seed}\x1f{patient_id}".encode(), digest_size=8, person=_TIME_OF_DAY_PERSON
    ).digest()
    return DAY_STARTS + int.from_bytes(digest, "little") % DAY_SPAN


def first_timeout(entered: int, max_hours: float) -> int:
    """The monitor's first run (a whole hour, in minutes) that finds a stay entered at
    ``entered`` stuck: strictly after ``entered + max_hours``."""
    return (math.floor((entered + max_hours * 60) / MONITOR_EVERY) + 1) * MONITOR_EVERY


def concerns_journey(rule: AutomationRule, journey_key: str) -> bool:
    """False for a rule that cannot touch this journey's patients: it only moves other
    journeys, or its condition on ``journey_key`` names another journey."""
    moves = [a for a in rule.actions if isinstance(a, UpdateJourneyStatus)]
    if len(moves) == len(rule.actions) and all(a.params.key != journey_key for a in moves):
        return False
    for condition in rule.conditions:
        if condition.path != "journey_key":
            continue
        if condition.op == "eq" and condition.value != journey_key:
            return False
        if condition.op == "in" and journey_key not in condition.value:
            return False
    return True


class _Patient:
    __slots__ = (
        "ended",
        "entered",
        "episode",
        "fired_rule",
        "fires",
        "id",
        "next_timeout",
        "seen",
        "sequence",
        "stage",
        "stays",
        "version",
    )

    def __init__(self, patient_id: str) -> None:
        self.id = patient_id
        self.stage: str | None = None
        self.entered = 0
        self.version = 0
        self.episode = 1
        self.ended: int | None = None  # when the episode ended (a final stage), if it did
        self.seen: set[str] = set()
        self.next_timeout: int | None = None
        # The stale rule (its index) the stay last timed out under, and how many times.
        self.fired_rule = -1
        self.fires = 0
        self.sequence = 0
        self.stays: list[tuple[str | None, str, int, int]] = []


class _RuleTally:
    __slots__ = ("emails", "fired", "moved", "refused")

    def __init__(self) -> None:
        self.fired = self.moved = self.refused = self.emails = 0


@dataclass(frozen=True)
class _TimeoutKind:
    label: str
    sends_email: bool
    quiet: tuple[tuple[_RuleTally, int], ...] | None


def _reads_the_patient(rule: AutomationRule) -> bool:
    return any(c.path.split(".")[0] in ("patient_id", "event_id") for c in rule.conditions)


class CohortRun:
    """One simulation: compile once, then play each patient."""

    def __init__(self, cohort: Cohort) -> None:
        machine = StageMachine.from_spec(cohort.journey_key, cohort.spec)
        if machine is None:
            raise InvalidInput(f"journey {cohort.journey_key!r} has no stages to simulate")
        try:
            self.plan = TimelinePlan.compile(cohort.spec)
        except ValueError as error:
            raise InvalidInput(f"journey_spec: {error}") from error
        most = self.plan.max_events_per_entity * cohort.cohort_size
        if most > MAX_TIMELINE_EVENTS:
            raise InvalidInput(
                f"cohort_size: up to {most:,} timeline events for this cohort, more than "
                f"{MAX_TIMELINE_EVENTS:,}: simulate fewer patients"
            )
        self.evaluations = 0
        self.cohort = cohort
        self.machine = machine
        self.steps = timeline_steps(cohort.spec, machine)
        self.end = cohort.days * MINUTES_PER_DAY
        self.watches: dict[str, StageWatch] = {
            watch.stage: watch
            for watch in stage_watches(
                [(cohort.org, cohort.journey_key, SIMULATED_VERSION, cohort.spec)]
            )
        }
        self.tallies = {id(rule): _RuleTally() for rule in cohort.rules}
        self.by_trigger: dict[str, list[AutomationRule]] = {}
        for rule in cohort.rules:
            self.by_trigger.setdefault(rule.trigger_event, []).append(rule)
        self.refusals: Counter[tuple[str | None, str, str]] = Counter()
        self.timeouts = [0] * cohort.days
        self.timeouts_by_rule: Counter[str] = Counter()
        self.emails = [0] * cohort.days
        self.chains_cut = 0
        self.enrolled = 0
        self.points: list[LogPoint] = []
        self.standing: dict[str, list[datetime]] = {stage: [] for stage in machine.stages}
        self.origin = datetime.combine(cohort.start_date, time(), UTC)
        # Timeouts are most of the work: what one does is worked out once per kind.
        self._timeout_kinds: dict[tuple[str, int, float | None], _TimeoutKind] = {}
        self._thresholds = {
            stage: tuple(rule.max_hours * 60 for rule in watch.rules[SIMULATED_VERSION])
            for stage, watch in self.watches.items()
        }
        self._timeouts_read_hours = any(
            condition.path == "hours_stale"
            for rule in self.by_trigger.get(TIMEOUT_EVENT_TYPE, [])
            for condition in rule.conditions
        )

    # -- the cohort --------------------------------------------------------------------------

    def run(self) -> CohortOutcome:
        for index in range(self.cohort.cohort_size):
            self._play(index)
        return self._outcome()

    def _play(self, index: int) -> None:
        cohort = self.cohort
        per_day = cohort.arrivals_per_day
        arrival = index // per_day if per_day else 0
        if arrival >= cohort.days:
            return
        patient = _Patient(f"patient-{index + 1}")
        minute = time_of_day(cohort.seed, patient.id)
        self._move(patient, self.machine.initial_stage, arrival * MINUTES_PER_DAY + minute, None)
        if patient.stage is None:
            self._finish(patient)
            return
        self.enrolled += 1
        start = cohort.start_date + timedelta(days=arrival)
        previous_day, same_day = -1, 0
        for event in self.plan.generate(patient.id, start, cohort.seed):
            day = arrival + event.day_offset
            same_day = same_day + 1 if day == previous_day else 1
            previous_day = day
            at = day * MINUTES_PER_DAY + minute + same_day
            if at >= self.end:
                break
            step = self.steps.get(event.event_id)
            if step is None:
                continue
            self._time_out_until(patient, at)
            if step.move_to is not None:
                self._move(patient, step.move_to, at, None)
            if step.trigger is not None:
                self._handle(patient, at, step.trigger, step.payload, depth=0)
        self._time_out_until(patient, self.end)
        self._finish(patient)

    # -- moves -------------------------------------------------------------------------------

    def _move(
        self, patient: _Patient, to_stage: str, at: int, by: tuple[AutomationRule, str] | None
    ) -> str:
        """Move as a person (``by`` None) or as automation (``by`` = (rule, trigger)):
        ``moved``, ``unchanged`` or ``refused``."""
        ended = patient.ended
        current = (
            CurrentStage(
                patient.stage,
                patient.version,
                self.origin,
                patient.episode,
                None if ended is None else self._moment(ended),
            )
            if patient.stage is not None
            else None
        )
        trigger = by[1] if by else None
        request = MoveRequest(
            to_stage=to_stage,
            is_person=by is None,
            reason=STAFF_REASON if by is None else None,
            events_seen=frozenset(patient.seen | {trigger} if trigger else patient.seen),
        )
        try:
            decided = decide_episode_move(self.machine, current, request, self._moment(at))
        except MoveRefused as refusal:
            self.refusals[(patient.stage, to_stage, refusal.why)] += 1
            return "refused"
        except InvalidInput:  # a draft rule naming a stage the (draft) journey lacks
            self.refusals[(patient.stage, to_stage, "unknown_stage")] += 1
            return "refused"
        if decided is None:
            return "unchanged"
        if trigger:
            patient.seen.add(trigger)
        patient.stays.append((decided.change.from_stage, to_stage, at, decided.episode))
        patient.stage, patient.entered = to_stage, at
        patient.version += 1
        patient.episode, patient.ended = decided.episode, at if decided.ends else None
        patient.fired_rule, patient.fires = -1, 0  # a new stay: the gate starts again
        # The monitor leaves an ended episode alone (stage_timeout): it waits on nothing.
        watch = None if decided.ends else self.watches.get(to_stage)
        shortest = watch.rules[SIMULATED_VERSION][0] if watch else None
        patient.next_timeout = first_timeout(at, shortest.max_hours) if shortest else None
        return "moved"

    # -- domain events and the rules ---------------------------------------------------------

    def _handle(
        self,
        patient: _Patient,
        at: int,
        event_type: str,
        payload: Mapping[str, Any],
        depth: int,
        detail: dict[str, Any] | None = None,
    ) -> bool:
        """Run the rules an event matches (and the events they emit); whether a rule sent
        an email. Events emitted go after, in order, as the bus would deliver them."""
        pending: deque[tuple[str, Mapping[str, Any], int, dict[str, Any] | None]] = deque(
            [(event_type, payload, depth, detail)]
        )
        emailed = False
        while pending:
            event_type, payload, depth, detail = pending.popleft()
            self.evaluations += 1
            if self.evaluations > MAX_RULE_EVALUATIONS:
                raise InvalidInput(
                    f"cohort_size: more than {MAX_RULE_EVALUATIONS:,} events through the rules "
                    "(timeouts whose rules move or emit are played one by one): simulate fewer "
                    "patients or days"
                )
            patient.sequence += 1
            event_id = f"sim-{patient.id}-{patient.sequence}"
            if detail is None:
                detail = {
                    "organization_id": self.cohort.org,
                    "patient_id": patient.id,
                    "event_id": event_id,
                    "payload": dict(payload),
                }
                if depth:
                    detail["chain_depth"] = depth
            rules = self.by_trigger.get(event_type)
            matched = matching_rules(rules, event_type, detail) if rules else []
            is_timeout = event_type == TIMEOUT_EVENT_TYPE
            for rule in matched:
                tally = self.tallies[id(rule)]
                tally.fired += 1
                for action in rule.actions:
                    if isinstance(action, UpdateJourneyStatus):
                        if action.params.key != self.cohort.journey_key:
                            continue  # another journey: outside this simulation
                        outcome = self._move(patient, action.params.status, at, (rule, event_type))
                        if outcome == "moved":
                            tally.moved += 1
                        elif outcome == "refused":
                            tally.refused += 1
                    elif isinstance(action, SendEmail):
                        if is_timeout and emailed:
                            continue  # a timeout's email is claimed once
                        emailed = True
                        tally.emails += 1
                        if not is_timeout:
                            self.emails[at // MINUTES_PER_DAY] += 1
                    elif isinstance(action, EmitEvent):
                        if depth + 1 > MAX_CHAIN_DEPTH:
                            self.chains_cut += 1
                        elif action.params.type in TRIGGER_EVENTS:
                            pending.append(
                                (action.params.type, action.params.payload, depth + 1, None)
                            )
            patient.seen.add(event_type)
        return emailed

    def _time_out_until(self, patient: _Patient, until: int) -> None:
        """The monitor's timeouts strictly before ``until``, while the patient stays put."""
        while patient.next_timeout is not None and patient.next_timeout < until:
            at, stage, entered = patient.next_timeout, patient.stage, patient.entered
            assert stage is not None
            elapsed = at - entered
            # The stale rule it comes from: the longest passed (a stay passes max_hours when
            # strictly longer, as the monitor reads it).
            thresholds = self._thresholds[stage]
            passed = len(thresholds) - 1
            while thresholds[passed] >= elapsed:
                passed -= 1
            hours = round(elapsed / 60, 1) if self._timeouts_read_hours else None
            kind = self._timeout_kinds.get((stage, passed, hours))
            if kind is None:
                kind = self._timeout_kind(stage, passed, hours, elapsed)
            if kind.quiet is None:
                self._time_out_once(patient, stage, at, kind, passed)
                continue
            # Quiet timeouts (the rules neither read the patient nor change anything but the
            # email count): counted as they are, without playing the rules through.
            day = at // MINUTES_PER_DAY
            emailed = kind.sends_email
            for tally, sent in kind.quiet:
                tally.fired += 1
                tally.emails += sent
                emailed = emailed or bool(sent)
            self.timeouts[day] += 1
            if emailed:
                self.emails[day] += 1
            self.timeouts_by_rule[kind.label] += 1
            patient.seen.add(TIMEOUT_EVENT_TYPE)
            self._next_timeout(patient, stage, at, passed)

    def _time_out_once(
        self, patient: _Patient, stage: str, at: int, kind: _TimeoutKind, passed: int
    ) -> None:
        """A timeout whose rules may depend on the patient or change it: the whole way."""
        stay = patient.version
        day = at // MINUTES_PER_DAY
        self.timeouts[day] += 1
        self.timeouts_by_rule[kind.label] += 1
        timeout = self._timeout(patient, stage, at, f"timeout-{patient.id}-{at}")
        emailed = self._handle(patient, at, TIMEOUT_EVENT_TYPE, {}, 0, timeout.detail())
        if emailed or kind.sends_email:
            self.emails[day] += 1
        if patient.version == stay:
            self._next_timeout(patient, stage, at, passed)

    def _next_timeout(self, patient: _Patient, stage: str, at: int, passed: int) -> None:
        """When the monitor's gate lets the stay fire next after a timeout at ``at`` under
        its ``passed``-th rule: the rule's back-off (:func:`refire_gap`, as the gate), or a
        longer rule's own first timeout (24 hours after this one at the earliest)."""
        if patient.fired_rule == passed:
            patient.fires += 1
        else:
            patient.fired_rule, patient.fires = passed, 1
        rules = self.watches[stage].rules[SIMULATED_VERSION]
        candidates = []
        gap = refire_gap(rules[passed], patient.fires)
        if gap is not None:
            candidates.append(at + int(gap.total_seconds()) // 60)
        if passed + 1 < len(rules):
            longer = first_timeout(patient.entered, rules[passed + 1].max_hours)
            candidates.append(max(longer, at + GATE_MINUTES))
        patient.next_timeout = min(candidates, default=None)

    def _timeout(self, patient: _Patient, stage: str, at: int, event_id: str) -> StageTimeout:
        stuck = StuckEnrollment(
            patient.id, self._moment(patient.entered), {}, definition_version=SIMULATED_VERSION
        )
        timeout = stage_timeout(self.watches[stage], stuck, self._moment(at), event_id)
        assert timeout is not None  # first_timeout waits for the shortest rule
        return timeout

    def _timeout_kind(
        self, stage: str, passed: int, hours: float | None, elapsed: int
    ) -> _TimeoutKind:
        """What a timeout ``elapsed`` minutes into a stay in ``stage`` does, worked out once:
        which stale rule it is, and, when the rules it matches can neither depend on the
        patient (no condition on ``patient_id`` or ``event_id``) nor change anything but the
        email count, what they do."""
        sample = _Patient("sample")
        timeout = self._timeout(sample, stage, elapsed, "sample")
        quiet: tuple[tuple[_RuleTally, int], ...] | None = None
        rules = self.by_trigger.get(TIMEOUT_EVENT_TYPE, [])
        if not any(_reads_the_patient(rule) for rule in rules):
            matched = matching_rules(rules, TIMEOUT_EVENT_TYPE, timeout.detail())
            if all(self._only_emails(rule) for rule in matched):
                bumps, emailed = [], False
                for rule in matched:
                    sends = any(isinstance(a, SendEmail) for a in rule.actions) and not emailed
                    emailed = emailed or sends
                    bumps.append((self.tallies[id(rule)], int(sends)))
                quiet = tuple(bumps)
        stale = self.watches[stage].rule_for(
            self._moment(0), SIMULATED_VERSION, self._moment(elapsed)
        )
        assert stale is not None  # first_timeout waits for the shortest rule
        known = _TimeoutKind(
            label=f"{stage}>{stale.max_hours:g}h:{stale.action}",
            sends_email=sends_email(timeout.action),
            quiet=quiet,
        )
        self._timeout_kinds[(stage, passed, hours)] = known
        return known

    def _only_emails(self, rule: AutomationRule) -> bool:
        return all(
            isinstance(action, SendEmail)
            or (
                isinstance(action, UpdateJourneyStatus)
                and action.params.key != self.cohort.journey_key
            )
            for action in rule.actions
        )

    # -- the outcome -------------------------------------------------------------------------

    def _moment(self, minute: int) -> datetime:
        return self.origin + minute * _MINUTE

    def _finish(self, patient: _Patient) -> None:
        for from_stage, to_stage, at, episode in patient.stays:
            self.points.append(
                LogPoint(patient.id, from_stage, to_stage, self._moment(at), episode)
            )
        if patient.stage is not None:
            self.standing[patient.stage].append(self._moment(patient.entered))

    def _outcome(self) -> CohortOutcome:
        shape = JourneyShape.from_spec(self.cohort.spec)
        assert shape is not None  # the machine exists, so the stages do
        end = self.origin + timedelta(minutes=self.end)
        analytics = analyse_journey(
            self.cohort.journey_key,
            0,
            shape,
            self.points,
            self.standing,
            Period(start=self.origin, end=end),
            end,
            ReadCost(log_items=0, enrollment_items=0, queries=0),
        )
        stages = [
            SimulatedStage(
                stage=s.stage,
                kind=s.kind,
                entries=s.entries,
                in_stage_at_end=s.in_stage_now,
                time_in_stage=s.time_in_stage,
                conversions=s.conversions,
            )
            for s in analytics.stages
        ]
        outcomes = [
            RuleOutcome(
                id=None if self.cohort.draft_rules else rule.id,
                index=index if self.cohort.draft_rules else None,
                name=rule.name,
                fired=self.tallies[id(rule)].fired,
                moved=self.tallies[id(rule)].moved,
                refused=self.tallies[id(rule)].refused,
                emails=self.tallies[id(rule)].emails,
            )
            for index, rule in enumerate(self.cohort.rules)
        ]
        order = {stage: i for i, stage in enumerate(self.machine.stages)}
        refused = [
            Refusal(from_stage=source, to_stage=target, why=why, count=count)
            for (source, target, why), count in sorted(
                self.refusals.items(),
                key=lambda item: (-item[1], order.get(item[0][0] or "", -1), item[0][1:]),
            )
        ]
        return CohortOutcome(
            enrolled=self.enrolled,
            stages=stages,
            final={s.stage: s.in_stage_at_end for s in stages},
            refused=refused,
            timeouts=Timeouts(
                per_day=self.timeouts,
                by_rule=dict(sorted(self.timeouts_by_rule.items())),
                total=sum(self.timeouts),
            ),
            emails=Emails(per_day=self.emails, total=sum(self.emails)),
            rules=outcomes,
            never_fired=[
                outcome.index if outcome.index is not None else str(outcome.id)
                for outcome in outcomes
                if outcome.fired == 0
            ],
            chains_cut=self.chains_cut,
        )


def simulate_cohort(cohort: Cohort) -> CohortOutcome:
    return CohortRun(cohort).run()


def _change(run: float | None, compared: float | None) -> Change:
    both = run is not None and compared is not None
    return Change(
        run=run,
        compared=compared,
        change=round(run - compared, 3) if both else None,  # type: ignore[operator]
    )


def stage_differences(
    run: Sequence[SimulatedStage], compared: Sequence[SimulatedStage]
) -> dict[str, StageDiff]:
    """Per stage of either run (this run's order first): entries, patients there at the end
    and median hours in it, side by side and their difference (null where a run lacks the
    stage or the median)."""
    mine = {stage.stage: stage for stage in run}
    theirs = {stage.stage: stage for stage in compared}
    differences: dict[str, StageDiff] = {}
    for name in [*mine, *(name for name in theirs if name not in mine)]:
        a, b = mine.get(name), theirs.get(name)
        differences[name] = StageDiff(
            entries=_change(a.entries if a else None, b.entries if b else None),
            final=_change(a.in_stage_at_end if a else None, b.in_stage_at_end if b else None),
            median_hours=_change(
                a.time_in_stage.median_hours if a else None,
                b.time_in_stage.median_hours if b else None,
            ),
        )
    return differences
