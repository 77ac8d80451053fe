"""What a journey migration does to one enrollment (pure: no AWS)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal

from journeys_core.models.patient import Enrollment

MIGRATION_ACTOR = "migration"
StepKind = Literal["skip", "unmapped", "repin", "move"]


@dataclass(frozen=True)
class MigrationStep:
    """``skip``: not on a source version (or already on the target); ``unmapped``: its stage
    is not in the target and the map says nothing (left untouched); ``repin``: same stage,
    new version; ``move``: a new stage on the new version (with a log entry)."""

    kind: StepKind
    to_stage: str | None = None


def migration_step(
    enrollment: Enrollment,
    *,
    from_version: int | None,
    to_version: int,
    target_stages: Collection[str],
    stage_map: Mapping[str, str],
) -> MigrationStep:
    version = enrollment.definition_version
    if version == to_version or (from_version is not None and version != from_version):
        return MigrationStep("skip")
    to_stage = stage_map.get(enrollment.stage, enrollment.stage)
    if to_stage not in target_stages:
        return MigrationStep("unmapped")
    return MigrationStep("move" if to_stage != enrollment.stage else "repin", to_stage)
