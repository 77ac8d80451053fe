"""Python client of the journeys service: the persistence guide's journey manager calls
(``client.journeys.save_journey(...)``), patients and domain events, over HTTP.

    from journeys_client import JourneysClient, get_manager

    with JourneysClient("http://127.0.0.1:3000", token) as client:
        journey = client.journeys.load_journey("diabetic-first-year")

    manager = get_manager()  # JOURNEYS_URL and JOURNEYS_TOKEN, as the guide's get_manager()
    manager.journeys.save_journey(name="...", journey_spec={...})
"""

from .client import JourneysClient, get_manager
from .errors import (
    AlreadyExistsError,
    AuthError,
    ConflictError,
    JourneysError,
    NotFoundError,
    ServiceError,
    ValidationError,
    error_from_response,
)
from .events import EventsApi
from .journeys import JourneysApi
from .models import (
    Enrollment,
    EntityTimeline,
    EventAccepted,
    JourneyExecutionRecord,
    JourneyLogEntry,
    JourneyRecord,
    JourneySummary,
    Patient,
    PatientSummary,
    Simulation,
    StageMember,
    SystemEvent,
    Timeline,
    TimelineEvent,
)
from .patients import UNSET, PatientsApi
from .transport import VERSION, RetryPolicy

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
    "PatientSummary",
    "PatientsApi",
    "RetryPolicy",
    "ServiceError",
    "Simulation",
    "StageMember",
    "SystemEvent",
    "Timeline",
    "TimelineEvent",
    "ValidationError",
    "__version__",
    "error_from_response",
    "get_manager",
]
