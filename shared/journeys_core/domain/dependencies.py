"""Checks on ``depends_on`` links between journey events: used when a definition is saved
and when the timeline engine compiles a spec (one truth for both)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def event_ids(events: Sequence[Any]) -> list[str]:
    """The id each event is known by: ``event_id``, else ``name``, else its position."""
    ids = []
    for index, event in enumerate(events):
        event_id = None
        if isinstance(event, Mapping):
            event_id = event.get("event_id") or event.get("name")
        ids.append(str(event_id) if event_id else f"event-{index + 1}")
    return ids


def depends_on_of(event: Any) -> Any:
    if not isinstance(event, Mapping):
        return None
    return event.get("depends_on") or None


def find_dependency_problems(events: list[dict[str, Any]]) -> list[str]:
    """Human-readable problems with the events' ``depends_on`` graph (empty when fine).

    Reports entries that are not objects, duplicate event ids (a ``depends_on`` naming
    them would be ambiguous), targets that name no event, and cycles (each cycle once).
    """
    problems: list[str] = []
    if not isinstance(events, Sequence) or isinstance(events, (str, bytes)):
        return ["events must be a list"]
    ids = event_ids(events)
    position: dict[str, int] = {}
    for index, (event, event_id) in enumerate(zip(events, ids, strict=True)):
        if not isinstance(event, Mapping):
            problems.append(f"event #{index + 1} is not an object")
            continue
        if event_id in position:
            problems.append(f"event_id '{event_id}' is used by more than one event")
        else:
            position[event_id] = index

    # Each event has at most one target, so the graph is a set of chains: walking from
    # every event and colouring what we visit finds every cycle exactly once.
    target_of: dict[int, int] = {}
    for index, event in enumerate(events):
        target = depends_on_of(event)
        if target is None:
            continue
        if not isinstance(target, str):
            problems.append(f"event '{ids[index]}': depends_on must be a single event_id")
        elif target not in position:
            problems.append(f"event '{ids[index]}' depends_on unknown event '{target}'")
        else:
            target_of[index] = position[target]

    state = [0] * len(events)  # 0 unvisited, 1 on the current walk, 2 done
    for start in range(len(events)):
        walk = []
        node: int | None = start
        while node is not None and state[node] == 0:
            state[node] = 1
            walk.append(node)
            node = target_of.get(node)
        if node is not None and state[node] == 1:
            cycle = walk[walk.index(node) :]
            if len(cycle) == 1:
                problems.append(f"event '{ids[node]}' depends_on itself")
            else:
                path = " -> ".join(ids[i] for i in [*cycle, node])
                problems.append(f"dependency cycle: {path}")
        for visited in walk:
            state[visited] = 2
    return problems
