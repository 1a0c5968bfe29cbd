"""The operations the shipped diagrams call by topic (``camunda:topic``).

Later issues add the recording-release operations (locate, preserve, package); each is a small
function of an ``OperationContext`` returning the values it adds to the case.
"""

from __future__ import annotations

from engine.config import Settings
from engine.operations import OperationRegistry


def register(registry: OperationRegistry, settings: Settings) -> None:
    """Register every operation of the shipped processes on ``registry``."""
    _ = (registry, settings)

__all__ = ["register"]
