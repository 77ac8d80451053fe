"""Email through Amazon SES: the only code that sends mail."""

from __future__ import annotations

from journeys_core.data import aws
from journeys_core.data.codec import error_code
from journeys_core.data.throttling import throttling_as_unavailable

# SES refusals that no retry will change: the address, the sender or the content is wrong.
_REJECTIONS = frozenset(
    {
        "MessageRejected",
        "MailFromDomainNotVerifiedException",
        "InvalidParameterValue",
        "ConfigurationSetDoesNotExistException",
    }
)


class EmailRejected(Exception):
    """SES refused the message for good (the caller records it; retrying would not help)."""


def send_email(sender: str, recipient: str, subject: str, body: str) -> str:
    """Send a plain-text email; the SES message id. EmailRejected when SES refuses it,
    ServiceUnavailable when SES throttles us."""
    try:
        with throttling_as_unavailable(f"email to {recipient}"):
            response = aws.client("ses").send_email(
                Source=sender,
                Destination={"ToAddresses": [recipient]},
                Message={
                    "Subject": {"Data": subject, "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": body, "Charset": "UTF-8"}},
                },
            )
    except Exception as error:
        if error_code(error) in _REJECTIONS:
            raise EmailRejected(f"{error_code(error)}: {error}") from error
        raise
    return str(response["MessageId"])
