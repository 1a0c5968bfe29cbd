"""The callgov tables. Importing this package registers every model on ``engine.db.Base``."""

from engine.models.audit import AuditEvent
from engine.models.definitions import DefinitionVersion, ProcessDefinition
from engine.models.instances import CaseCounter, ProcessInstance
from engine.models.scheduler import SchedulerJob, SchedulerLock
from engine.models.tasks import HumanTask, TaskCandidate, TaskHistory
from engine.models.timers import StartTimer, Timer
from engine.models.users import User, UserRole

__all__ = [
    "AuditEvent",
    "CaseCounter",
    "DefinitionVersion",
    "HumanTask",
    "ProcessDefinition",
    "ProcessInstance",
    "SchedulerJob",
    "SchedulerLock",
    "StartTimer",
    "TaskCandidate",
    "TaskHistory",
    "Timer",
    "User",
    "UserRole",
]
