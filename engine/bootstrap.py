"""The composition root: settings -> database, operations, services -> the ``Callgov`` facade.

The organisation's operations live in ``workflows/`` (which imports the engine, not the other way
round), so they are loaded by module name: ``CALLGOV_OPERATIONS_MODULE`` (default
``workflows.operations``) must define ``register(registry, settings)``.
"""

from __future__ import annotations

import importlib
from typing import Any

from engine.clock import Clock
from engine.config import Settings
from engine.db import Database
from engine.facade import Callgov
from engine.operations import OperationRegistry

DEFAULT_OPERATIONS_MODULE = "workflows.operations"


def load_operations(settings: Settings) -> OperationRegistry:
    """A registry filled by the configured operations module."""
    registry = OperationRegistry()
    name = settings.environ.get("CALLGOV_OPERATIONS_MODULE", DEFAULT_OPERATIONS_MODULE)
    if name:
        module = importlib.import_module(name)
        module.register(registry, settings)
    return registry


def build(settings: Settings | None = None, *, clock: Clock | None = None, services: Any = None,
          operations: OperationRegistry | None = None) -> Callgov:
    """A facade wired from ``settings`` (default: the environment)."""
    settings = settings or Settings.from_env()
    settings.ensure_instance_folder()
    db = Database(settings.database_url)
    if services is None:
        from engine.services import Services

        services = Services(settings)
    return Callgov(db, clock=clock, operations=operations or load_operations(settings), services=services)
