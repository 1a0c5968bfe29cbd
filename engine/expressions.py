"""callgov's safe expression language, used by diagrams for conditions, scripts, assignees and timers.

Diagram text is never given to ``eval`` or ``exec``. It is parsed with ``ast.parse`` and checked
against a whitelist when the diagram is saved (``compile_expression``, ``compile_script``); the
checked tree is then walked by a small evaluator here. What the language allows, and why the rest is
refused, is described for governance staff in ``docs/expressions.md``. In short:

* values: text, numbers, True/False/None, lists, tuples, sets and mappings; names from task data;
* operators: comparisons (chained, ``in``, ``is None``), ``and``/``or``/``not``, ``a if c else b``,
  ``+ - * / // %`` and unary minus, subscripts and slices;
* calls only to the helper functions in ``HELPERS``, by name;
* no attribute access at all, no names starting with ``_``, no lambda, comprehensions, f-strings,
  ``**``, bitwise operators, keyword arguments or unpacking.

Evaluation is bounded: numbers stay within 10**18, text and lists built by an expression within
10,000 characters or items (checked before the value is built), and the walk has a step budget.
Every failure is an ``ExpressionError`` with a message meant for the person who wrote the expression.
"""

from __future__ import annotations

import ast
import io
import keyword
import math
import operator
import re
import tokenize
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Any, NamedTuple

from engine.calendar import (
    LONDON,
    Duration,
    add_months,
    add_working_days,
    as_utc,
    is_working_day,
    london_date,
    parse_iso_date,
    parse_iso_datetime,
    working_days_between,
)
from engine.clock import Clock, SystemClock
from engine.errors import ExpressionError

__all__ = [
    "HELPERS",
    "CompiledExpression",
    "CompiledScript",
    "Duration",
    "TimerCycle",
    "compile_expression",
    "compile_script",
    "evaluate",
    "parse_timer_literal",
]

MAX_SOURCE_CHARS = 2000
MAX_SCRIPT_CHARS = 20_000
MAX_DEPTH = 30
MAX_NODES = 500
MAX_SIZE = 10_000
MAX_INT = 10**18
MAX_STEPS = 10_000
MAX_SCRIPT_STEPS = 100_000

_SYSTEM_CLOCK = SystemClock()
_VALUE_TYPES = frozenset(
    {type(None), bool, int, float, str, list, tuple, dict, set, frozenset} | {date, datetime, timedelta, Duration}
)
_SEQUENCES = (str, list, tuple)


# ---------------------------------------------------------------- values and messages


def _kind(value: object) -> str:
    """How a person would name the type of ``value``."""
    names = {
        bool: "True/False",
        int: "a number",
        float: "a number",
        str: "text",
        type(None): "None",
        list: "a list",
        tuple: "a list",
        set: "a set",
        frozenset: "a set",
        dict: "a mapping",
        datetime: "a date-time",
        date: "a date",
        timedelta: "a time span",
        Duration: "a duration",
    }
    return names.get(type(value), f"a {type(value).__name__}")


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _admit(value: Any, where: str) -> Any:
    """Let ``value`` into the evaluation only if it is one of the plain types the language knows."""
    if type(value) not in _VALUE_TYPES:
        raise ExpressionError(f"{where} is {_kind(value)}, which expressions cannot use")
    return value


def _bounded(value: Any) -> Any:
    """Refuse numbers beyond the language's limits."""
    if type(value) is int and abs(value) > MAX_INT:
        raise ExpressionError("The number is too large (the limit is 10**18)")
    if type(value) is float and not math.isfinite(value):
        raise ExpressionError("The result is not a finite number")
    return value


def _size(value: object) -> int:
    """Characters of text plus items of collections in ``value``, nested ones included.

    Counting stops just past ``MAX_SIZE``, so it is cheap even for large or self-referencing data.
    Anything but the plain types is refused on the way, so building or printing a value never runs
    code belonging to a foreign object.
    """
    total, pending = 0, [value]
    while pending and total <= MAX_SIZE:
        item = pending.pop()
        _admit(item, "A value inside the collection")
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, dict):
            total += 2 * len(item)
            if total <= MAX_SIZE:
                pending.extend(item.keys())
                pending.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += len(item)
            if total <= MAX_SIZE:
                pending.extend(item)
    return min(total, MAX_SIZE + 1)


def _too_large() -> ExpressionError:
    return ExpressionError(f"The result would be too large (more than {MAX_SIZE:,} characters or items)")


# ---------------------------------------------------------------- the grammar (checked at compile time)

_BINARY: dict[type[ast.operator], tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Add: ("+", operator.add),
    ast.Sub: ("-", operator.sub),
    ast.Mult: ("*", operator.mul),
    ast.Div: ("/", operator.truediv),
    ast.FloorDiv: ("//", operator.floordiv),
    ast.Mod: ("%", operator.mod),
}
_COMPARE: dict[type[ast.cmpop], tuple[str, Callable[[Any, Any], bool]]] = {
    ast.Eq: ("==", operator.eq),
    ast.NotEq: ("!=", operator.ne),
    ast.Lt: ("<", operator.lt),
    ast.LtE: ("<=", operator.le),
    ast.Gt: (">", operator.gt),
    ast.GtE: (">=", operator.ge),
    ast.In: ("in", lambda a, b: a in b),
    ast.NotIn: ("not in", lambda a, b: a not in b),
    ast.Is: ("is", operator.is_),
    ast.IsNot: ("is not", operator.is_not),
}
_BITWISE = "Bitwise operators (<<, >>, &, |, ^, ~) are not allowed in expressions"
_REFUSED: dict[type[ast.AST], str] = {
    ast.Pow: "The ** operator is not allowed in expressions",
    ast.MatMult: "The @ operator is not allowed in expressions",
    ast.LShift: _BITWISE,
    ast.RShift: _BITWISE,
    ast.BitAnd: _BITWISE,
    ast.BitOr: _BITWISE,
    ast.BitXor: _BITWISE,
    ast.Invert: _BITWISE,
    ast.Lambda: "'lambda' is not allowed in expressions",
    ast.ListComp: "Comprehensions ('for' inside brackets) are not allowed in expressions",
    ast.SetComp: "Comprehensions ('for' inside brackets) are not allowed in expressions",
    ast.DictComp: "Comprehensions ('for' inside brackets) are not allowed in expressions",
    ast.GeneratorExp: "Generator expressions ('for' inside brackets) are not allowed in expressions",
    ast.JoinedStr: "f-strings are not allowed in expressions; join text with +",
    ast.FormattedValue: "f-strings are not allowed in expressions; join text with +",
    ast.NamedExpr: "The := operator is not allowed in expressions",
    ast.Starred: "Unpacking with * is not allowed in expressions",
    ast.Await: "'await' is not allowed in expressions",
    ast.Yield: "'yield' is not allowed in expressions",
    ast.YieldFrom: "'yield' is not allowed in expressions",
    ast.keyword: "Keyword arguments are not allowed in expressions; pass arguments in order",
}
_PLAIN: frozenset[type[ast.AST]] = frozenset(
    {
        ast.Load,
        ast.BoolOp,
        ast.And,
        ast.Or,
        ast.Not,
        ast.USub,
        ast.UAdd,
        ast.IfExp,
        ast.Subscript,
        ast.Slice,
        ast.List,
        ast.Tuple,
        ast.Set,
        *_BINARY,
        *_COMPARE,
    }
)


def _check_constant(node: ast.Constant) -> None:
    value = node.value
    if type(value) not in (str, int, float, bool, type(None)):
        raise ExpressionError("Only text, numbers, True, False and None can be written as values")
    _bounded(value)


def _check_name(node: ast.Name) -> None:
    if node.id.startswith("_"):
        raise ExpressionError(f"Names starting with '_' are not allowed in expressions: {node.id!r}")


def _check_attribute(node: ast.Attribute) -> None:
    raise ExpressionError(
        f"Attribute access is not allowed in expressions: {node.attr!r} (use the helper functions instead)"
    )


def _check_binary(node: ast.BinOp) -> None:
    if type(node.op) in _REFUSED:
        raise ExpressionError(_REFUSED[type(node.op)])
    left = node.left
    if isinstance(node.op, ast.Mod) and isinstance(left, ast.Constant) and isinstance(left.value, str):
        raise ExpressionError("Text formatting with % is not allowed in expressions")


def _check_unary(node: ast.UnaryOp) -> None:
    if type(node.op) in _REFUSED:
        raise ExpressionError(_REFUSED[type(node.op)])


def _check_compare(node: ast.Compare) -> None:
    for op, right in zip(node.ops, node.comparators, strict=True):
        is_none = isinstance(right, ast.Constant) and right.value is None
        if isinstance(op, ast.Is | ast.IsNot) and not is_none:
            raise ExpressionError("'is' may only be used as 'is None' or 'is not None'")


def _check_call(node: ast.Call) -> None:
    if isinstance(node.func, ast.Attribute):
        _check_attribute(node.func)
    if type(node.func) in _REFUSED:
        raise ExpressionError(_REFUSED[type(node.func)])
    if not isinstance(node.func, ast.Name):
        raise ExpressionError("Only the helper functions can be called, by their name, e.g. len(x)")
    name = node.func.id
    helper = HELPERS.get(name)
    if helper is None:
        raise ExpressionError(f"{name!r} is not one of the functions expressions may call")
    if any(argument.arg is None for argument in node.keywords):
        raise ExpressionError("Unpacking with ** is not allowed in expressions")
    if node.keywords:
        raise ExpressionError(_REFUSED[ast.keyword])
    given = len(node.args)
    if given < helper.min_args or (helper.max_args is not None and given > helper.max_args):
        if helper.max_args is None:
            expected = f"at least {helper.min_args}"
        elif helper.min_args == helper.max_args:
            expected = str(helper.min_args)
        else:
            expected = f"{helper.min_args} to {helper.max_args}"
        raise ExpressionError(f"{name}() takes {expected} argument(s), {given} given")


def _check_dict(node: ast.Dict) -> None:
    if any(key is None for key in node.keys):
        raise ExpressionError("Unpacking with ** is not allowed in expressions")


_CHECKS: dict[type[ast.AST], Callable[[Any], None]] = {
    ast.Constant: _check_constant,
    ast.Name: _check_name,
    ast.Attribute: _check_attribute,
    ast.BinOp: _check_binary,
    ast.UnaryOp: _check_unary,
    ast.Compare: _check_compare,
    ast.Call: _check_call,
    ast.Dict: _check_dict,
}


def _validate(root: ast.expr) -> None:
    """Refuse any node outside the language, and trees that are too big or too deep."""
    count = 0
    pending: list[tuple[ast.AST, int]] = [(root, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, ast.expr):
            count += 1
            if count > MAX_NODES:
                raise ExpressionError(f"The expression is too long (more than {MAX_NODES} parts)")
            if depth > MAX_DEPTH:
                raise ExpressionError(f"The expression is nested too deeply (more than {MAX_DEPTH} levels)")
        kind = type(node)
        if kind in _REFUSED:
            raise ExpressionError(_REFUSED[kind])
        if kind in _CHECKS:
            _CHECKS[kind](node)
        elif kind not in _PLAIN:
            raise ExpressionError(f"'{kind.__name__}' is not allowed in expressions")
        pending.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


_VALID_ESCAPES = frozenset("\n\\'\"abfnrtv01234567xNuU")


def _refuse_invalid_escapes(text: str) -> None:
    """Refuse text such as ``'C:\\docs'``: Python only warns about ``\\d`` today and will refuse it later.

    Checked on the tokens rather than by turning the parser's warning into an error, because the
    warning filters are shared by every thread in the process.
    """
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, ValueError):
        return  # not valid Python: ast.parse reports it
    for token in tokens:
        if token.type != tokenize.STRING:
            continue
        prefix = token.string[: len(token.string) - len(token.string.lstrip("rRbBuUfF"))]
        if "r" in prefix.lower():
            continue
        for escape in re.finditer(r"\\(.)", token.string, re.DOTALL):
            if escape[1] not in _VALID_ESCAPES:
                raise ExpressionError(f"Not a valid expression: invalid escape sequence '\\{escape[1]}'")


def _parse(text: str) -> ast.expr:
    if text.startswith("${") or text.startswith("#{"):
        raise ExpressionError("Camunda '${...}' expressions are not supported; write the expression without ${ and }")
    _refuse_invalid_escapes(text)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        where = f" (column {exc.offset})" if exc.offset and "\n" not in text else ""
        raise ExpressionError(f"Not a valid expression: {exc.msg}{where}") from None
    except (RecursionError, MemoryError, OverflowError):
        raise ExpressionError("The expression is nested too deeply") from None
    except (ValueError, Warning) as exc:
        raise ExpressionError(f"Not a valid expression: {exc}") from None
    return tree.body


# ---------------------------------------------------------------- compiled expressions


@dataclass(frozen=True)
class CompiledExpression:
    """An expression that passed the language's checks, ready to evaluate many times.

    ``source`` is the text as written; ``tree`` is the validated syntax tree (do not modify it).
    """

    source: str
    tree: ast.expr = field(repr=False, compare=False)

    def evaluate(self, variables: Mapping[str, Any], *, clock: Clock | None = None) -> Any:
        """The expression's value, with names looked up in ``variables`` and ``now()`` read from ``clock``."""
        return _Evaluation(variables, clock, MAX_STEPS).run(self.tree)


def compile_expression(source: str) -> CompiledExpression:
    """Check ``source`` against the language (at deploy time); raise ExpressionError if it is outside it."""
    if not isinstance(source, str):
        raise ExpressionError("An expression must be text")
    text = source.strip()
    if not text:
        raise ExpressionError("The expression is empty")
    if len(text) > MAX_SOURCE_CHARS:
        raise ExpressionError(
            f"The expression is too long ({len(text):,} characters; the limit is {MAX_SOURCE_CHARS:,})"
        )
    tree = _parse(text)
    _validate(tree)
    return CompiledExpression(source, tree)


@lru_cache(maxsize=1024)
def _compile_cached(source: str) -> CompiledExpression:
    return compile_expression(source)


def evaluate(source: str, variables: Mapping[str, Any], *, clock: Clock | None = None) -> Any:
    """Compile ``source`` (remembering the last 1,024 compiled) and evaluate it against ``variables``."""
    if not isinstance(source, str):
        raise ExpressionError("An expression must be text")
    return _compile_cached(source).evaluate(variables, clock=clock)


# ---------------------------------------------------------------- scripts

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_ASSIGNMENT = re.compile(r"\s*([A-Za-z_]\w*)\s*=(?!=)(.*)", re.ASCII | re.DOTALL)


@dataclass(frozen=True)
class CompiledScript:
    """A script task: one ``name = expression`` per line, run top to bottom.

    ``targets`` are the names assigned, in order of first assignment. Later lines see the values
    assigned by earlier lines; nothing else is changed.
    """

    source: str
    targets: tuple[str, ...]
    lines: tuple[tuple[int, str, CompiledExpression], ...] = field(repr=False, compare=False)

    def run(self, variables: Mapping[str, Any], *, clock: Clock | None = None) -> dict[str, Any]:
        """Evaluate each line and return the assignments made (``variables`` is not modified)."""
        evaluation = _Evaluation(variables, clock, MAX_SCRIPT_STEPS)
        for number, target, expression in self.lines:
            try:
                evaluation.assigned[target] = evaluation.run(expression.tree)
            except ExpressionError as exc:
                raise ExpressionError(f"Line {number}: {exc}") from exc
        return dict(evaluation.assigned)


def compile_script(source: str) -> CompiledScript:
    """Check a script task's text; blank lines and ``# comments`` are skipped. Errors name the line."""
    if not isinstance(source, str):
        raise ExpressionError("A script must be text")
    if len(source) > MAX_SCRIPT_CHARS:
        raise ExpressionError(f"The script is too long (the limit is {MAX_SCRIPT_CHARS:,} characters)")
    lines = []
    for number, line in enumerate(_LINE_BREAK.split(source), start=1):
        text = line.strip()
        if text and not text.startswith("#"):
            lines.append(_compile_line(number, line))
    targets = tuple(dict.fromkeys(target for _, target, _ in lines))
    return CompiledScript(source, targets, tuple(lines))


def _compile_line(number: int, line: str) -> tuple[int, str, CompiledExpression]:
    match = _ASSIGNMENT.fullmatch(line)
    if match is None or not match[2].strip():
        shown = line if len(line) <= 60 else line[:57] + "..."
        raise ExpressionError(f"Line {number}: {shown!r} is not of the form name = expression")
    target, expression = match[1], match[2]
    if target.startswith("_"):
        raise ExpressionError(f"Line {number}: names starting with '_' cannot be assigned: {target!r}")
    if keyword.iskeyword(target):
        raise ExpressionError(f"Line {number}: {target!r} is a reserved word and cannot be assigned")
    try:
        return number, target, compile_expression(expression)
    except ExpressionError as exc:
        if ";" in expression and str(exc).startswith("Not a valid expression"):
            message = "write one assignment per line (';' is not allowed)"
            raise ExpressionError(f"Line {number}: {message}") from None
        raise ExpressionError(f"Line {number}: {exc}") from None


# ---------------------------------------------------------------- the evaluator


class _Evaluation:
    """One run of the walker: the names in scope, the clock and the remaining step budget."""

    def __init__(self, variables: Mapping[str, Any], clock: Clock | None, steps: int) -> None:
        self.variables = variables
        self.assigned: dict[str, Any] = {}
        self.clock: Clock = clock if clock is not None else _SYSTEM_CLOCK
        self.steps_left = steps

    def run(self, node: ast.expr) -> Any:
        self.steps_left -= 1
        if self.steps_left < 0:
            raise ExpressionError("The expression took too many steps to evaluate")
        return _EVALUATORS[type(node)](self, node)

    def constant(self, node: ast.Constant) -> Any:
        return node.value

    def name(self, node: ast.Name) -> Any:
        if node.id in self.assigned:
            return self.assigned[node.id]
        try:
            value = self.variables[node.id]
        except KeyError:
            raise ExpressionError(f"Unknown name {node.id!r}") from None
        return _admit(value, f"The value of {node.id!r}")

    def bool_op(self, node: ast.BoolOp) -> Any:
        stop_when = not isinstance(node.op, ast.And)  # 'and' stops at a false value, 'or' at a true one
        value: Any = None
        for operand in node.values:
            value = self.run(operand)
            if bool(value) is stop_when:
                return value
        return value

    def unary_op(self, node: ast.UnaryOp) -> Any:
        operand = self.run(node.operand)
        if isinstance(node.op, ast.Not):
            return not operand
        if isinstance(node.op, ast.UAdd) and isinstance(operand, int | float):
            return +operand
        if isinstance(node.op, ast.USub) and isinstance(operand, int | float | timedelta | Duration):
            try:
                return _bounded(-operand)
            except OverflowError as exc:
                raise ExpressionError(f"'-' failed: {exc}") from None
        symbol = "-" if isinstance(node.op, ast.USub) else "+"
        raise ExpressionError(f"Cannot use '{symbol}' with {_kind(operand)}")

    def bin_op(self, node: ast.BinOp) -> Any:
        left, right = self.run(node.left), self.run(node.right)
        symbol, function = _BINARY[type(node.op)]
        if symbol == "%" and isinstance(left, str):
            raise ExpressionError("Text formatting with % is not allowed in expressions")
        if symbol == "+" and isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
            if _size(left) + _size(right) > MAX_SIZE:
                raise _too_large()
        elif symbol == "*":
            _check_multiply(left, right)
        try:
            return _bounded(function(left, right))
        except ZeroDivisionError:
            raise ExpressionError("Division by zero") from None
        except TypeError:
            raise ExpressionError(f"Cannot use '{symbol}' with {_kind(left)} and {_kind(right)}") from None
        except (ValueError, ArithmeticError) as exc:
            raise ExpressionError(f"'{symbol}' failed: {exc}") from None

    def compare(self, node: ast.Compare) -> bool:
        left = self.run(node.left)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.run(right_node)
            symbol, function = _COMPARE[type(op)]
            try:
                holds = bool(function(left, right))
            except TypeError:
                raise ExpressionError(f"Cannot compare {_kind(left)} with {_kind(right)} using '{symbol}'") from None
            except Exception as exc:  # e.g. RecursionError on self-referencing data
                raise ExpressionError(f"'{symbol}' failed: {exc}") from None
            if not holds:
                return False
            left = right
        return True

    def if_exp(self, node: ast.IfExp) -> Any:
        return self.run(node.body) if self.run(node.test) else self.run(node.orelse)

    def subscript(self, node: ast.Subscript) -> Any:
        container = self.run(node.value)
        key = self.slice_of(node.slice) if isinstance(node.slice, ast.Slice) else self.run(node.slice)
        if isinstance(key, slice) and not isinstance(container, str | list | tuple):
            raise ExpressionError(f"Cannot take a slice from {_kind(container)}")
        if not isinstance(container, str | list | tuple | dict):
            raise ExpressionError(f"Cannot take an item from {_kind(container)}")
        try:
            value = container[key]
        except KeyError:
            raise ExpressionError(f"Key {_show(key)} not found") from None
        except IndexError:
            raise ExpressionError(f"Index {_show(key)} is out of range ({len(container)} items)") from None
        except TypeError:
            raise ExpressionError(f"Cannot take an item from {_kind(container)} with {_kind(key)}") from None
        except ValueError as exc:
            raise ExpressionError(f"Cannot slice: {exc}") from None
        return _admit(value, "The item taken")

    def slice_of(self, node: ast.Slice) -> slice:
        bounds = [None if part is None else self.run(part) for part in (node.lower, node.upper, node.step)]
        if any(b is not None and type(b) is not int for b in bounds):
            raise ExpressionError("Slice positions must be whole numbers")
        return slice(*bounds)

    def list_display(self, node: ast.List) -> list[Any]:
        return _built([self.run(element) for element in node.elts])

    def tuple_display(self, node: ast.Tuple) -> tuple[Any, ...]:
        return _built(tuple(self.run(element) for element in node.elts))

    def set_display(self, node: ast.Set) -> set[Any]:
        try:
            return _built({self.run(element) for element in node.elts})
        except TypeError:
            raise ExpressionError("Lists and mappings cannot be put in a set") from None

    def dict_display(self, node: ast.Dict) -> dict[Any, Any]:
        pairs = [
            (self.run(key), self.run(value))
            for key, value in zip(node.keys, node.values, strict=True)
            if key is not None
        ]
        try:
            return _built(dict(pairs))
        except TypeError:
            raise ExpressionError("Lists and mappings cannot be mapping keys") from None

    def call(self, node: ast.Call) -> Any:
        assert isinstance(node.func, ast.Name)  # guaranteed by _check_call
        name = node.func.id
        helper = HELPERS[name]
        arguments = [self.run(argument) for argument in node.args]
        try:
            if helper.uses_clock:
                arguments.insert(0, self.clock)
            result = helper.function(*arguments)
        except ExpressionError as exc:
            raise ExpressionError(f"{name}(): {exc}") from exc
        except Exception as exc:  # every failure inside a helper becomes an ExpressionError
            raise ExpressionError(f"{name}(): {str(exc) or type(exc).__name__}") from exc
        return _bounded(_admit(result, f"The result of {name}()"))


def _check_multiply(left: Any, right: Any) -> None:
    """Refuse a repetition or product that would be too large, before it is computed."""
    for sequence, times in ((left, right), (right, left)):
        if isinstance(sequence, _SEQUENCES) and isinstance(times, int):
            if times > 0 and _size(sequence) * times > MAX_SIZE:
                raise _too_large()
            return
    if isinstance(left, int) and isinstance(right, int) and max(abs(left), abs(right)) > MAX_INT:
        raise ExpressionError("The number is too large (the limit is 10**18)")


def _built(value: Any) -> Any:
    if _size(value) > MAX_SIZE:
        raise _too_large()
    return value


_EVALUATORS: dict[type[ast.AST], Callable[[_Evaluation, Any], Any]] = {
    ast.Constant: _Evaluation.constant,
    ast.Name: _Evaluation.name,
    ast.BoolOp: _Evaluation.bool_op,
    ast.UnaryOp: _Evaluation.unary_op,
    ast.BinOp: _Evaluation.bin_op,
    ast.Compare: _Evaluation.compare,
    ast.IfExp: _Evaluation.if_exp,
    ast.Subscript: _Evaluation.subscript,
    ast.List: _Evaluation.list_display,
    ast.Tuple: _Evaluation.tuple_display,
    ast.Set: _Evaluation.set_display,
    ast.Dict: _Evaluation.dict_display,
    ast.Call: _Evaluation.call,
}


# ---------------------------------------------------------------- helper functions


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"needs text, not {_kind(value)}")
    return value


def _whole(value: Any) -> int:
    if type(value) is not int:
        raise TypeError(f"needs a whole number, not {_kind(value)}")
    return value


def _when(value: Any) -> date:
    if not isinstance(value, date):
        raise TypeError(f"needs a date or date-time, not {_kind(value)}")
    return value


def _moment(value: Any) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"needs a date-time, not {_kind(value)}")
    return as_utc(value).astimezone(LONDON)


def _now(clock: Clock) -> datetime:
    moment = clock.now()
    if moment.tzinfo is None:
        raise ValueError("the clock gave a time without a timezone")
    return moment.astimezone(UTC)


def _date(value: Any) -> date:
    if isinstance(value, str):
        return parse_iso_date(value)
    return london_date(_when(value))


def _datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return as_utc(value)
    return parse_iso_datetime(_text(value))


def _add_months(when: Any, months: Any) -> date:
    moment = _when(when)
    return add_months(as_utc(moment) if isinstance(moment, datetime) else moment, _whole(months))


def _to_text(value: Any) -> str:
    if _size(value) > MAX_SIZE:
        raise ValueError("the value is too large to turn into text")
    text = value.isoformat() if isinstance(value, date | Duration) else str(value)
    if len(text) > MAX_SIZE:
        raise ValueError("the value is too large to turn into text")
    return text


def _to_int(value: Any) -> int:
    if (isinstance(value, float) and math.isfinite(value)) or isinstance(value, int):
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d{1,19}\s*", value):
        return int(value)
    if isinstance(value, str | float):
        raise ValueError(f"cannot read {_show(value)} as a whole number")
    raise TypeError(f"needs text or a number, not {_kind(value)}")


_DECIMAL = re.compile(r"\s*[+-]?(\d{1,30}(\.\d{0,30})?|\.\d{1,30})([eE][+-]?\d{1,3})?\s*")


def _to_float(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        return float(value)
    if isinstance(value, str):
        raise ValueError(f"cannot read {_show(value)} as a number")
    raise TypeError(f"needs text or a number, not {_kind(value)}")


def _abs(value: Any) -> Any:
    if not isinstance(value, int | float | timedelta):
        raise TypeError(f"needs a number, not {_kind(value)}")
    return abs(value)


def _extreme(pick: Callable[..., Any]) -> Callable[..., Any]:
    def choose(*values: Any) -> Any:
        if len(values) == 1:
            if not isinstance(values[0], list | tuple | set | frozenset):
                raise TypeError(f"needs a list or two or more values, not {_kind(values[0])}")
            values = tuple(values[0])
        if not values:
            raise ValueError("needs at least one value")
        return pick(values)

    return choose


def _round(value: Any, digits: Any = None) -> Any:
    if not isinstance(value, int | float):
        raise TypeError(f"needs a number, not {_kind(value)}")
    if digits is None:
        return round(value)
    if abs(_whole(digits)) > 15:
        raise ValueError("can round to at most 15 digits")
    return round(value, digits)


def _contains(haystack: Any, needle: Any) -> bool:
    if isinstance(haystack, str):
        return _text(needle) in haystack
    if isinstance(haystack, list | tuple | set | frozenset | dict):
        return needle in haystack
    raise TypeError(f"needs text or a collection, not {_kind(haystack)}")


def _len(value: Any) -> int:
    if not isinstance(value, str | list | tuple | set | frozenset | dict):
        raise TypeError(f"needs text or a collection, not {_kind(value)}")
    return len(value)


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple | set | frozenset | dict):
        return not value
    return False


def _get(container: Any, key: Any, default: Any = None) -> Any:
    if container is None:
        return default
    if isinstance(container, dict):
        return container.get(key, default)
    if isinstance(container, list | tuple):
        index = _whole(key)
        return container[index] if -len(container) <= index < len(container) else default
    raise TypeError(f"needs a mapping or a list, not {_kind(container)}")


class Helper(NamedTuple):
    """A function expressions may call: how to call it and how many arguments it takes."""

    function: Callable[..., Any]
    min_args: int
    max_args: int | None  # None: any number
    uses_clock: bool = False


HELPERS: Mapping[str, Helper] = MappingProxyType(
    {
        "now": Helper(_now, 0, 0, uses_clock=True),
        "today": Helper(lambda clock: _now(clock).astimezone(LONDON).date(), 0, 0, uses_clock=True),
        "duration": Helper(lambda text: Duration.parse(_text(text)), 1, 1),
        "date": Helper(_date, 1, 1),
        "datetime": Helper(_datetime, 1, 1),
        "add_months": Helper(_add_months, 2, 2),
        "add_working_days": Helper(lambda when, n: add_working_days(_when(when), _whole(n)), 2, 2),
        "working_days_between": Helper(lambda a, b: working_days_between(_when(a), _when(b)), 2, 2),
        "is_working_day": Helper(lambda when: is_working_day(_when(when)), 1, 1),
        "year": Helper(lambda when: london_date(_when(when)).year, 1, 1),
        "month": Helper(lambda when: london_date(_when(when)).month, 1, 1),
        "day": Helper(lambda when: london_date(_when(when)).day, 1, 1),
        "weekday": Helper(lambda when: london_date(_when(when)).isoweekday(), 1, 1),
        "hour": Helper(lambda when: _moment(when).hour, 1, 1),
        "minute": Helper(lambda when: _moment(when).minute, 1, 1),
        "len": Helper(_len, 1, 1),
        "lower": Helper(lambda text: _text(text).lower(), 1, 1),
        "upper": Helper(lambda text: _text(text).upper(), 1, 1),
        "strip": Helper(lambda text: _text(text).strip(), 1, 1),
        "str": Helper(_to_text, 1, 1),
        "int": Helper(_to_int, 1, 1),
        "float": Helper(_to_float, 1, 1),
        "bool": Helper(bool, 1, 1),
        "abs": Helper(_abs, 1, 1),
        "min": Helper(_extreme(min), 1, None),
        "max": Helper(_extreme(max), 1, None),
        "round": Helper(_round, 1, 2),
        "contains": Helper(_contains, 2, 2),
        "startswith": Helper(lambda text, prefix: _text(text).startswith(_text(prefix)), 2, 2),
        "endswith": Helper(lambda text, suffix: _text(text).endswith(_text(suffix)), 2, 2),
        "is_empty": Helper(_is_empty, 1, 1),
        "get": Helper(_get, 2, 3),
    }
)


# ---------------------------------------------------------------- timer literals


@dataclass(frozen=True)
class TimerCycle:
    """A repeating timer, ``R[n]/[start/]period``: fire every ``period`` from ``start`` (or from now).

    ``repetitions`` is None for a timer that repeats without limit.
    """

    repetitions: int | None
    start: datetime | None
    period: Duration


_LOOKS_LIKE_CYCLE = re.compile(r"R\d*/(P|\d{4}-)")
_LOOKS_LIKE_DURATION = re.compile(r"P(\d|T\d)")
_LOOKS_LIKE_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_timer_literal(text: str) -> datetime | timedelta | Duration | TimerCycle | None:
    """Read a bare ISO-8601 timer value, or return None if ``text`` is not one (it is then an expression).

    A date or date-time is returned as aware UTC (no offset means UTC; a date means midnight UTC);
    a duration as a ``timedelta``, or as a ``Duration`` if it has years or months; a repeating
    cycle ``R[n]/period`` or ``R[n]/start/period`` as a ``TimerCycle``. Text that looks like a
    literal but is malformed raises ExpressionError.
    """
    if not isinstance(text, str):
        raise ExpressionError("A timer must be text")
    literal = text.strip()
    try:
        if _LOOKS_LIKE_CYCLE.match(literal):
            return _parse_cycle(literal)
        if _LOOKS_LIKE_DURATION.match(literal):
            span = Duration.parse(literal)
            return span if span.total_months else span.to_timedelta()
        if _LOOKS_LIKE_DATE.match(literal):
            return parse_iso_datetime(literal)
    except ValueError as exc:
        raise ExpressionError(f"Not a valid timer: {exc}") from None
    return None


def _parse_cycle(literal: str) -> TimerCycle:
    count, *parts = literal.split("/")
    repetitions = int(count[1:]) if len(count) > 1 else None
    if repetitions == 0:
        raise ValueError("a repeating timer must repeat at least once (R1 or more, or R for no limit)")
    if len(parts) not in (1, 2) or (len(parts) == 2 and parts[0].startswith("P")):
        raise ValueError(f"{literal[:40]!r}: write a repeating timer as R[n]/period or R[n]/start/period")
    start = parse_iso_datetime(parts[0]) if len(parts) == 2 else None
    period = Duration.parse(parts[-1])
    if period == Duration():
        raise ValueError("a repeating timer's period must be longer than zero")
    return TimerCycle(repetitions, start, period)
