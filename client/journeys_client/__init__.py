"""Python client of the journeys service: the persistence guide's journey manager calls
(``client.journeys.save_journey(...)``), patients and domain events, over HTTP.

    from journeys_client import JourneysClient

    with JourneysClient("http://127.0.0.1:3000", token) as client:
        journey = client.journeys.load_journey("diabetic-first-year")
"""

from .client import (
    UNSET,
    VERSION,
    EventsApi,
    JourneysApi,
    JourneysClient,
    PatientsApi,
    RetryPolicy,
    error_from_response,
)
from .errors import (
    AlreadyExistsError,
    AuthError,
    ConflictError,
    JourneysError,
    NotFoundError,
    ServiceError,
    ValidationError,
)
from .models import (
    Enrollment,
    EntityTimeline,
    EventAccepted,
    JourneyExecutionRecord,
    JourneyLogEntry,
    JourneyRecord,
    JourneySummary,
    Patient,
    StageMember,
    Timeline,
    TimelineEvent,
)

__version__ = VERSION

__all__ = [
    "UNSET",
    "AlreadyExistsError",
    "AuthError",
    "ConflictError",
    "Enrollment",
    "EntityTimeline",
    "EventAccepted",
    "EventsApi",
    "JourneyExecutionRecord",
    "JourneyLogEntry",
    "JourneyRecord",
    "JourneySummary",
    "JourneysApi",
    "JourneysClient",
    "JourneysError",
    "NotFoundError",
    "Patient",
    "PatientsApi",
    "RetryPolicy",
    "ServiceError",
    "StageMember",
    "Timeline",
    "TimelineEvent",
    "ValidationError",
    "__version__",
    "error_from_response",
]
