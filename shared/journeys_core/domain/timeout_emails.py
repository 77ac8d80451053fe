"""The email a stage timeout sends to the patient (pure: no AWS)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EmailMessage:
    subject: str
    text: str


def timeout_email(
    display_name: str | None, journey_key: str, stage: str, subject: str | None
) -> EmailMessage:
    """The rule's subject, and a short text naming the patient, the journey and the stage.
    A rule without a subject gets a plain one."""
    subject = (subject or "").strip() or f"A reminder about your journey {journey_key}"
    greeting = f"Hello {display_name}," if display_name else "Hello,"
    text = "\n".join(
        [
            greeting,
            "",
            subject,
            "",
            f"Journey: {journey_key}",
            f"Current step: {stage}",
            "",
            "If you have already taken care of this, please ignore this message.",
        ]
    )
    return EmailMessage(subject=subject, text=text)
