"""Built-in journey definitions shipped in the layer, one JSON file per journey.

Each file holds what ``POST /journeys`` accepts: ``{name, description, tags, products,
journey_spec}``. The importer adds the ``builtin`` tag itself. Timeline journeys follow
the persistence guide; the stage-machine archetypes (``retreat_ibiza_2025``,
``carta_natal``, ``despertar_8s``, ``yoga_urban_om``, ``intake``) follow the hybrid state
machine document and carry its stale-journey rules.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib.resources import files
from typing import Any

__all__ = ["load_builtin_journeys"]


@cache
def _parsed() -> tuple[dict[str, Any], ...]:
    # Read lazily (nothing at import time) and once per process: the files never change
    # while a Lambda container lives.
    folder = files(__name__)
    entries = sorted(
        (entry for entry in folder.iterdir() if entry.name.endswith(".json")),
        key=lambda entry: entry.name,
    )
    return tuple(json.loads(entry.read_text(encoding="utf-8")) for entry in entries)


def load_builtin_journeys() -> list[dict[str, Any]]:
    """Every built-in journey, ordered by file name; callers get their own copies."""
    return copy.deepcopy(list(_parsed()))
