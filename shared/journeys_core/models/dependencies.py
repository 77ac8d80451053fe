"""Checks on ``depends_on`` links between journey events (used at save time)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def find_dependency_problems(events: Iterable[Mapping[str, object]]) -> list[str]:
    """Messages for links to unknown events and for cycles, in spec order."""
    links: dict[str, str | None] = {}
    for event in events:
        target = event.get("depends_on")
        links[str(event["event_id"])] = str(target) if target else None
    problems = [
        f"{event_id} depends_on unknown event {target}"
        for event_id, target in links.items()
        if target is not None and target not in links
    ]
    reported: set[str] = set()
    for start in links:
        path: list[str] = []
        current: str | None = start
        while current is not None and current in links and current not in path:
            path.append(current)
            current = links[current]
        if current is not None and current in path:
            cycle = path[path.index(current) :]
            if not reported.intersection(cycle):
                reported.update(cycle)
                problems.append("depends_on cycle " + " -> ".join([*cycle, current]))
    return problems
