"""Python client of the journeys service: the persistence guide's journey manager calls
(``client.journeys.save_journey(...)``), patients, domain events, automation rules, analytics
and administration over HTTP: every operation of the service's OpenAPI document.

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
from .insights import AdminApi, AnalyticsApi
from .journeys import JourneysApi
from .models import (
    AutomationRule,
    Enrollment,
    EntityTimeline,
    EventAccepted,
    JourneyAnalytics,
    JourneyExecutionRecord,
    JourneyLogEntry,
    JourneyRecord,
    JourneySummary,
    JourneyTemplate,
    LogVerification,
    Migration,
    MigrationPreview,
    Patient,
    PatientSummary,
    PlaybookResult,
    RuleCondition,
    Simulation,
    StageMember,
    StaleCheckResult,
    SystemEvent,
    Timeline,
    TimelineEvent,
)
from .patients import UNSET, PatientsApi
from .rules import RulesApi
from .transport import VERSION, RetryPolicy

__version__ = VERSION

__all__ = [
    "UNSET",
    "AdminApi",
    "AlreadyExistsError",
    "AnalyticsApi",
    "AuthError",
    "AutomationRule",
    "ConflictError",
    "Enrollment",
    "EntityTimeline",
    "EventAccepted",
    "EventsApi",
    "JourneyAnalytics",
    "JourneyExecutionRecord",
    "JourneyLogEntry",
    "JourneyRecord",
    "JourneySummary",
    "JourneyTemplate",
    "JourneysApi",
    "JourneysClient",
    "JourneysError",
    "LogVerification",
    "Migration",
    "MigrationPreview",
    "NotFoundError",
    "Patient",
    "PatientSummary",
    "PatientsApi",
    "PlaybookResult",
    "RetryPolicy",
    "RuleCondition",
    "RulesApi",
    "ServiceError",
    "Simulation",
    "StageMember",
    "StaleCheckResult",
    "SystemEvent",
    "Timeline",
    "TimelineEvent",
    "ValidationError",
    "__version__",
    "error_from_response",
    "get_manager",
]
