"""What the pages show of wellbeing: a call's record (or where its making stands) and a person's
memory digest, as plain dicts for the templates."""

from __future__ import annotations

from typing import Any

from carecall.persistence.models import RecordJobState
from carecall.persistence.wellbeing import WellbeingRepository
from carecall.wellbeing.records import MEASURE_NAMES, MEASURES, level_words

# Bootstrap colours (`text-bg-…`) by level: 0 good … 3 serious concern.
LEVEL_TONES = ("success", "info", "warning", "danger")


async def call_record_view(repository: WellbeingRepository, call_id: int) -> dict[str, Any] | None:
    """The call's record (`state` "done"), or its job's state ("pending", "running",
    "failed" with its `reason`, "skipped"); None when no record was asked for."""
    record = await repository.record_for(call_id)
    if record is not None:
        evidence = record.evidence or {}
        return {
            "state": RecordJobState.DONE.value,
            "summary": record.summary,
            "follow_ups": list(record.follow_ups or ()),
            "measures": [
                {
                    "key": name,
                    "name": MEASURE_NAMES[name],
                    "level": getattr(record, name),
                    "words": level_words(name, getattr(record, name)),
                    "tone": (
                        "light"
                        if getattr(record, name) is None
                        else LEVEL_TONES[getattr(record, name)]
                    ),
                    "evidence": evidence.get(name, ""),
                }
                for name in MEASURES
            ],
        }
    job = await repository.job_for(call_id)
    if job is None:
        return None
    return {"state": job.state.value, "reason": job.last_error or "", "attempts": job.attempts}


async def memory_view(repository: WellbeingRepository, senior_id: int) -> dict[str, Any] | None:
    memory = await repository.memory_for(senior_id)
    if memory is None or not memory.digest:
        return None
    return {"digest": memory.digest, "updated_at": memory.updated_at}
