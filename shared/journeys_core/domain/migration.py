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
    """``skip``: not on a source version (or already on the target, keyed for the journey's
    stage index); ``unmapped``: its stage is not in the target and the map says nothing (left
    untouched); ``repin``: same stage, new version (or the target, keyed anew for a stage
    index spread wider since); ``move``: a new stage on the new version (with a log entry)."""

    kind: StepKind
    to_stage: str | None = None


def migration_step(
    enrollment: Enrollment,
    *,
    from_version: int | None,
    to_version: int,
    target_stages: Collection[str],
    stage_map: Mapping[str, str],
    rekey: bool = False,
) -> MigrationStep:
    """``rekey``: the enrollment was keyed for another stage index shard count than the
    journey's now."""
    version = enrollment.definition_version
    if from_version is not None and version != from_version:
        return MigrationStep("skip")
    if version == to_version:
        if rekey and enrollment.stage in target_stages:
            return MigrationStep("repin", enrollment.stage)
        return MigrationStep("skip")
    to_stage = stage_map.get(enrollment.stage, enrollment.stage)
    if to_stage not in target_stages:
        return MigrationStep("unmapped")
    return MigrationStep("move" if to_stage != enrollment.stage else "repin", to_stage)
