"""The callgov tables. Importing this package registers every model on ``engine.db.Base``."""

from engine.models.audit import AuditEvent
from engine.models.breaches import BreachHold, BreachRecord, BreachReporter, BreachTrigger
from engine.models.definitions import DefinitionVersion, ProcessDefinition
from engine.models.governance import DefinitionDraft, PublicationRequest
from engine.models.instances import CaseCounter, ProcessInstance
from engine.models.mail import QueuedMail
from engine.models.messages import MessageStart, MessageSubscription, UndeliveredMessage
from engine.models.recording import CatalogueSyncState, Recording
from engine.models.releases import DisclosurePackage, DisclosureRecord, ListeningGrant, ReleaseRecording
from engine.models.scheduler import SchedulerJob, SchedulerLock
from engine.models.tasks import HumanTask, TaskCandidate, TaskHistory
from engine.models.throttle import SignInThrottle
from engine.models.timers import StartTimer, Timer
from engine.models.users import User, UserRole

__all__ = [
    "AuditEvent",
    "BreachHold",
    "BreachRecord",
    "BreachReporter",
    "BreachTrigger",
    "CaseCounter",
    "CatalogueSyncState",
    "DefinitionDraft",
    "DefinitionVersion",
    "DisclosurePackage",
    "DisclosureRecord",
    "HumanTask",
    "ListeningGrant",
    "MessageStart",
    "MessageSubscription",
    "ProcessDefinition",
    "ProcessInstance",
    "PublicationRequest",
    "QueuedMail",
    "Recording",
    "ReleaseRecording",
    "SchedulerJob",
    "SchedulerLock",
    "SignInThrottle",
    "StartTimer",
    "TaskCandidate",
    "TaskHistory",
    "Timer",
    "UndeliveredMessage",
    "User",
    "UserRole",
]
