"""Hot-path statements run straight on the database driver, compiled once per dialect.

Each use case reads and writes a handful of rows (who is acting, the task, the case and its state,
its task projection, history, the audit chain's head and new event). Through SQLAlchemy's execution
machinery each statement costs ten times or more what the database spends on it. These fixed
statements are compiled once by SQLAlchemy (so the SQL, the parameter style and the type
conversions both ways are SQLAlchemy's own) and then handed to the DBAPI cursor of the session's
connection, inside the same transaction. Everything else goes through SQLAlchemy as usual.
SQLAlchemy's cursor events do not see these statements.
"""

from __future__ import annotations

import threading
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql import ClauseElement, Select

_Prepared = tuple[str, list[str] | None, dict[str, Callable[[Any], Any]], dict[str, Any]]


class _Compiled:
    """A statement compiled once per dialect and parameter set, with SQLAlchemy's bind conversions."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._prepared: dict[tuple[str, tuple[str, ...]], _Prepared] = {}
        self._lock = threading.Lock()

    def _prepare(self, dialect: Dialect, keys: tuple[str, ...]) -> _Prepared:
        cache_key = (dialect.name, keys)
        prepared = self._prepared.get(cache_key)
        if prepared is None:
            compiled: Any = self._compile(dialect, keys)
            processors = {k: p for k, p in compiled._bind_processors.items() if isinstance(k, str)}
            order = list(compiled.positiontup) if compiled.positiontup is not None else None
            defaults = self._literals(compiled, keys)
            prepared = (compiled.string, order, processors, defaults)
            with self._lock:
                self._prepared[cache_key] = prepared
        return prepared

    def _compile(self, dialect: Dialect, keys: tuple[str, ...]) -> Any:
        return self.statement.compile(dialect=dialect, column_keys=list(keys))

    def _literals(self, compiled: Any, keys: tuple[str, ...]) -> dict[str, Any]:
        """Bind values the statement carries itself (``last_number + 1``, a constant in a WHERE).

        Column defaults are SQLAlchemy's execution-time work, which this path skips: a row must
        give every column that has one rather than get a silent NULL.
        """
        prefetch = [c.key for c in (*compiled.insert_prefetch, *compiled.update_prefetch)]
        if prefetch:
            raise ValueError(f"{self.statement}: give a value for {', '.join(prefetch)} (column defaults "
                             "are not applied on this path)")
        given = dict.fromkeys(keys)  # a required parameter left out fails here, as in SQLAlchemy
        return {k: v for k, v in compiled.construct_params(given).items() if k not in given}


class FastWrite(_Compiled):
    """An INSERT, UPDATE or DELETE compiled once per dialect and parameter set, run on the DBAPI cursor."""

    def execute(self, connection: Connection, rows: Mapping[str, Any] | Sequence[Mapping[str, Any]], *,
                returning: bool = False) -> Any:
        """Run the statement for one row (a mapping) or many; the row count, or the first
        returned value with ``returning``."""
        many = not isinstance(rows, Mapping)
        batch: Sequence[Mapping[str, Any]] = rows if many else [rows]  # type: ignore[assignment, list-item]
        if not batch:
            return 0
        sql, order, processors, defaults = self._prepare(connection.dialect, tuple(batch[0]))
        params = [_bind({**defaults, **row} if defaults else row, order, processors) for row in batch]
        cursor = _cursor(connection)
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


class FastRead(_Compiled):
    """A SELECT compiled once per dialect, run on the DBAPI cursor.

    Rows come back as named tuples (attribute access by column name, in select order) with
    SQLAlchemy's result conversions applied, so a timestamp or JSON column reads exactly as it
    would through ``Connection.execute``. Every call must pass the same parameter names.
    """

    def __init__(self, statement: Select[*tuple[Any, ...]]) -> None:
        super().__init__(statement)
        self._rows: dict[str, tuple[Any, list[tuple[int, Callable[[Any], Any]]]]] = {}

    def _compile(self, dialect: Dialect, keys: tuple[str, ...]) -> Any:
        return self.statement.compile(dialect=dialect)

    def all(self, connection: Connection, params: Mapping[str, Any] | None = None) -> list[Any]:
        """Every row the statement selects."""
        return self._run(connection, params or {}, many=True)

    def first(self, connection: Connection, params: Mapping[str, Any] | None = None) -> Any:
        """The first row, or None."""
        rows = self._run(connection, params or {}, many=False)
        return rows[0] if rows else None

    def _run(self, connection: Connection, params: Mapping[str, Any], *, many: bool) -> list[Any]:
        dialect = connection.dialect
        sql, order, processors, defaults = self._prepare(dialect, tuple(params))
        cursor = _cursor(connection)
        try:
            cursor.execute(sql, _bind({**defaults, **params} if defaults else params, order, processors))
            raw = cursor.fetchall() if many else cursor.fetchmany(1)
            shape = self._rows.get(dialect.name) or self._shape(dialect, cursor.description)
        finally:
            cursor.close()
        row_type, converters = shape
        if not converters:
            return [row_type._make(values) for values in raw]
        rows = []
        for values in raw:
            values = list(values)
            for index, convert in converters:
                values[index] = convert(values[index])
            rows.append(row_type._make(values))
        return rows

    def _shape(self, dialect: Dialect, description: Any) -> tuple[Any, list[tuple[int, Callable[[Any], Any]]]]:
        """The row type and the result conversions, from the compiled columns and the driver's types."""
        compiled: Any = self.statement.compile(dialect=dialect)
        columns = compiled._result_columns
        converters = []
        for index, column in enumerate(columns):
            convert = column.type._cached_result_processor(dialect, description[index][1])
            if convert is not None:
                converters.append((index, convert))
        shape = (namedtuple("FastRow", [column.keyname for column in columns]), converters)
        with self._lock:
            self._rows[dialect.name] = shape
        return shape


def _cursor(connection: Connection) -> Any:
    return connection.connection.driver_connection.cursor()  # type: ignore[union-attr]


def _bind(row: Mapping[str, Any], order: list[str] | None,
          processors: dict[str, Callable[[Any], Any]]) -> Any:
    if order is None:  # named parameters (psycopg)
        return {k: (processors[k](v) if k in processors else v) for k, v in row.items()}
    if not processors:
        return [row[k] for k in order]
    return [processors[k](row[k]) if k in processors else row[k] for k in order]
