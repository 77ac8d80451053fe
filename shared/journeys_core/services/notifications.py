"""The notifier: a ``JOURNEY_STAGE_TIMEOUT`` whose action sends email (``send_…``,
``request_…``: see ``journeys_core.domain.stale_monitor``) becomes one email to the patient,
with the rule's subject and the patient's name, journey and stage.

What happened is appended to the timeout's system event (``results``): ``sent`` (with SES's
message id), ``skipped`` (no email address on file, unknown patient, an action that sends no
email), ``failed`` (SES refused the message for good), or ``duplicate`` (EventBridge delivered
the event again after it was sent: the SES message id kept on the system event says so, and
nothing is sent again; only two deliveries racing each other could both send). Throttling and
outages raise, so that Lambda retries the event (then dead-letters it).
"""

from __future__ import annotations

from journeys_core.data import repositories
from journeys_core.data.mailer import EmailRejected, send_email
from journeys_core.domain.stale_monitor import sends_email
from journeys_core.domain.timeout_emails import timeout_email
from journeys_core.models.stale_monitor import StageTimeoutDetail, TimeoutNotification
from journeys_core.settings import get_settings


def notify_stage_timeout(timeout: StageTimeoutDetail) -> TimeoutNotification:
    """Email the patient about a timeout (at most once per event id); what was done."""
    org, events = timeout.organization_id, repositories.system_events()
    if repositories.email_claims().email_receipt(org, timeout.event_id):
        return TimeoutNotification(
            action=timeout.action, outcome="duplicate", detail="the email was already sent"
        )
    if (
        sends_email(timeout.action)
        and repositories.email_claims().claim_email(org, timeout.event_id, "notifier") is False
    ):
        return TimeoutNotification(
            action=timeout.action,
            outcome="duplicate",
            detail="another sender (an automation rule) emailed this timeout",
        )
    notification = _notify(timeout)
    receipt = {"email_message_id": notification.message_id} if notification.message_id else None
    if not events.add_result(org, timeout.event_id, notification.as_result(), attributes=receipt):
        # A hand-made event (e.g. a replayed sample) that the monitor never recorded.
        notification.detail = (notification.detail + " (no system event to record it on)").strip()
    return notification


def _notify(timeout: StageTimeoutDetail) -> TimeoutNotification:
    def skipped(why: str) -> TimeoutNotification:
        return TimeoutNotification(action=timeout.action, outcome="skipped", detail=why)

    if not sends_email(timeout.action):
        return skipped(f"the action {timeout.action!r} sends no email")
    record = repositories.patients().read(timeout.organization_id, timeout.patient_id)
    if not record.exists:
        return skipped("the patient no longer exists")
    patient = record.view()
    if not patient.email:
        return skipped("the patient has no email address")
    sender = get_settings().notification_sender
    if not sender:
        raise RuntimeError("NOTIFICATION_SENDER is not set: no address to send timeouts from")
    message = timeout_email(
        patient.display_name, timeout.journey_key, timeout.stage, timeout.email_subject
    )
    try:
        message_id = send_email(sender, patient.email, message.subject, message.text)
    except EmailRejected as error:
        return TimeoutNotification(action=timeout.action, outcome="failed", detail=str(error))
    return TimeoutNotification(
        action=timeout.action,
        outcome="sent",
        detail="to the address on file",  # not the address itself: results are logged
        message_id=message_id,
    )
