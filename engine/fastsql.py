"""Hot-path writes run straight on the database driver, compiled once per dialect.

Each use case writes a handful of rows (the case state, its task projection, history, the audit
event). Through SQLAlchemy's execution machinery each statement costs several times what the
database spends on it; these few fixed statements are compiled once by SQLAlchemy (so the SQL, the
parameter style and the type conversions are SQLAlchemy's own) and then handed to the DBAPI cursor
of the session's connection, inside the same transaction. Reads and everything else go through
SQLAlchemy as usual. SQLAlchemy's cursor events do not see these statements.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql import ClauseElement

_Prepared = tuple[str, list[str] | None, dict[str, Callable[[Any], Any]]]


class FastWrite:
    """An INSERT, UPDATE or DELETE compiled once per dialect and parameter set, run on the DBAPI cursor."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._prepared: dict[tuple[str, tuple[str, ...]], _Prepared] = {}
        self._lock = threading.Lock()

    def _prepare(self, dialect: Dialect, keys: tuple[str, ...]) -> _Prepared:
        cache_key = (dialect.name, keys)
        prepared = self._prepared.get(cache_key)
        if prepared is None:
            compiled: Any = self.statement.compile(dialect=dialect, column_keys=list(keys))
            processors = {k: p for k, p in compiled._bind_processors.items() if isinstance(k, str)}
            order = list(compiled.positiontup) if compiled.positiontup is not None else None
            prepared = (compiled.string, order, processors)
            with self._lock:
                self._prepared[cache_key] = prepared
        return prepared

    def execute(self, connection: Connection, rows: Mapping[str, Any] | Sequence[Mapping[str, Any]], *,
                returning: bool = False) -> Any:
        """Run the statement for one row (a mapping) or many; the row count, or the first
        returned value with ``returning``."""
        many = not isinstance(rows, Mapping)
        batch: Sequence[Mapping[str, Any]] = rows if many else [rows]  # type: ignore[assignment, list-item]
        if not batch:
            return 0
        sql, order, processors = self._prepare(connection.dialect, tuple(batch[0]))
        params = [_bind(row, order, processors) for row in batch]
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            if len(params) == 1:
                cursor.execute(sql, params[0])
            else:
                cursor.executemany(sql, params)
            if returning:
                row = cursor.fetchone()
                return None if row is None else row[0]
            return cursor.rowcount
        finally:
            cursor.close()


def _bind(row: Mapping[str, Any], order: list[str] | None,
          processors: dict[str, Callable[[Any], Any]]) -> Any:
    if order is None:  # named parameters (psycopg)
        return {k: (processors[k](v) if k in processors else v) for k, v in row.items()}
    return tuple(processors[k](row[k]) if k in processors else row[k] for k in order)
