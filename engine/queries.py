"""Facade methods that serve the web UI's pages (users administration, case lists, access checks).

``Callgov`` inherits them; each method is still one use case in one transaction through
``self._tx()`` or ``self.db.reading()``.
"""

from __future__ import annotations


class QueriesMixin:
    """Read models and administration use cases for the web UI (mixed into ``Callgov``)."""
