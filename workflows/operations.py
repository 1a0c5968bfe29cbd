"""The operations the shipped diagrams call by topic (``camunda:topic``).

Each is a small function of an ``OperationContext`` returning the values it adds to the case; the
recording release lifecycle's live in ``workflows.release``.
"""

from __future__ import annotations

from engine.config import Settings
from engine.operations import OperationRegistry
from workflows import breach, release


def register(registry: OperationRegistry, settings: Settings) -> None:
    """Register every operation of the shipped processes on ``registry``."""
    release.register(registry, settings)
    breach.register(registry, settings)
