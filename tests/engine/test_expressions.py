"""The safe expression language: what it refuses (escape attempts), what it computes, scripts, timers."""

from __future__ import annotations

import dataclasses
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engine import expressions
from engine.clock import FakeClock
from engine.errors import ExpressionError
from engine.expressions import (
    HELPERS,
    CompiledExpression,
    Duration,
    TimerCycle,
    compile_expression,
    compile_script,
    evaluate,
    parse_timer_literal,
)

FRIDAY_0900 = datetime(2026, 1, 30, 9, 0, tzinfo=UTC)

# A module global an escape would want to change; every escape test checks it is untouched.
STATE: dict[str, Any] = {"touched": False}


class Hostile:
    """A foreign object in task data: it records any of its code the evaluator runs."""

    calls: list[str] = []

    def __eq__(self, other: object) -> bool:
        Hostile.calls.append("__eq__")
        return True

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        Hostile.calls.append("__repr__")
        return "Hostile()"

    def __getattr__(self, name: str) -> Any:
        Hostile.calls.append(name)
        raise AttributeError(name)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(FRIDAY_0900)


@pytest.fixture
def task_data() -> dict[str, Any]:
    return {
        "request": {"status": "approved", "reason": "complaint", "recordings": ["r1", "r2", "r3"]},
        "count": 3,
        "price": 2.5,
        "name": "  Alice Smith ",
        "empty": "",
        "nothing": None,
        "received": datetime(2026, 1, 26, 14, 0, tzinfo=UTC),
        "deadline": date(2026, 2, 27),
        "tags": ["urgent", "dpo"],
        "flags": {"a": True},
        "state": STATE,
    }


@pytest.fixture
def no_side_effects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A sentinel path escapes try to create; fails the test if a process is started or state changes."""
    started: list[Any] = []

    def record(*args: Any, **kwargs: Any) -> int:
        started.append(args)
        return 0

    monkeypatch.setattr(os, "system", record)
    monkeypatch.setattr(os, "popen", record)
    monkeypatch.setattr(subprocess, "Popen", record)
    Hostile.calls.clear()
    sentinel = tmp_path / "escaped"
    yield sentinel
    assert not sentinel.exists()
    assert started == []
    assert STATE == {"touched": False}
    assert Hostile.calls == []


# ---------------------------------------------------------------- escape attempts refused at compile time

_NESTED = 999  # 999 levels of brackets: 1,999 characters, inside the length limit

COMPILE_TIME_ESCAPES = [
    ("().__class__.__base__.__subclasses__()", "Attribute access is not allowed in expressions: '__subclasses__'"),
    ("().__class__", "Attribute access is not allowed in expressions: '__class__'"),
    ("__import__('os').system('touch SENTINEL')", "Attribute access is not allowed"),
    ("__import__('os')", "'__import__' is not one of the functions"),
    ("getattr(x, '__class__')", "'getattr' is not one of the functions"),
    ("'{0.__class__}'.format(x)", "Attribute access is not allowed in expressions: 'format'"),
    ("str.format('{0.__class__}', x)", "Attribute access is not allowed"),
    ("f'{x.__class__}'", "f-strings are not allowed"),
    ("f'{x}'", "f-strings are not allowed"),
    ("(lambda: 1)()", "'lambda' is not allowed"),
    ("lambda: open('SENTINEL', 'w')", "'lambda' is not allowed"),
    ("[y for y in range(10)]", "Comprehensions"),
    ("{k: v for k, v in x}", "Comprehensions"),
    ("{y for y in x}", "Comprehensions"),
    ("(y for y in x)", "Generator expressions"),
    ("max(y for y in x)", "Generator expressions"),
    ("10**10**10", "The ** operator is not allowed"),
    ("'x' * 10**10", "The ** operator is not allowed"),
    ("[1] * 10**9", "The ** operator is not allowed"),
    ("add_months(now(), 10**12)", "The ** operator is not allowed"),
    ("__builtins__", "Names starting with '_' are not allowed in expressions: '__builtins__'"),
    ("__builtins__['eval']('1')", "Only the helper functions can be called"),
    ("_private", "Names starting with '_'"),
    ("__loader__", "Names starting with '_'"),
    ("globals()", "'globals' is not one of the functions"),
    ("locals()", "'locals' is not one of the functions"),
    ("vars()", "'vars' is not one of the functions"),
    ("open('/etc/passwd')", "'open' is not one of the functions"),
    ("open('SENTINEL', 'w')", "'open' is not one of the functions"),
    ("eval('1')", "'eval' is not one of the functions"),
    ("exec('import os')", "'exec' is not one of the functions"),
    ("compile('1', 'f', 'eval')", "'compile' is not one of the functions"),
    ("type(x)", "'type' is not one of the functions"),
    ("setattr(state, 'touched', True)", "'setattr' is not one of the functions"),
    ("breakpoint()", "'breakpoint' is not one of the functions"),
    ("input()", "'input' is not one of the functions"),
    ("print(x)", "'print' is not one of the functions"),
    ("object()", "'object' is not one of the functions"),
    ("max(range(10))", "'range' is not one of the functions"),
    ("x(1)", "'x' is not one of the functions"),
    ("[len][0](x)", "Only the helper functions can be called"),
    ("x.__dict__", "Attribute access is not allowed in expressions: '__dict__'"),
    ("len.__self__", "Attribute access is not allowed in expressions: '__self__'"),
    ("().__reduce__", "Attribute access is not allowed in expressions: '__reduce__'"),
    ("lower.__globals__", "Attribute access is not allowed in expressions: '__globals__'"),
    ("now.__globals__['os']", "Attribute access is not allowed"),
    ("data.keys", "Attribute access is not allowed in expressions: 'keys'"),
    ("request.keys()", "Attribute access is not allowed in expressions: 'keys'"),
    ("state.update({'touched': True})", "Attribute access is not allowed in expressions: 'update'"),
    ("(y := 1)", "The := operator is not allowed"),
    ("len(*x)", "Unpacking with * is not allowed"),
    ("max(**x)", "Unpacking with ** is not allowed"),
    ("{**x}", "Unpacking with ** is not allowed"),
    ("len(x=1)", "Keyword arguments are not allowed"),
    ("await x", "'await' is not allowed"),
    ("(yield)", "'yield' is not allowed"),
    ("(yield from x)", "'yield' is not allowed"),
    ("'%(a)s' % d", "Text formatting with % is not allowed"),
    ("'%s' % x", "Text formatting with % is not allowed"),
    ("'%s.__class__' % (x,)", "Text formatting with % is not allowed"),
    ("1 << 100000", "Bitwise operators"),
    ("x >> 1", "Bitwise operators"),
    ("x | y", "Bitwise operators"),
    ("x & y", "Bitwise operators"),
    ("x ^ y", "Bitwise operators"),
    ("~x", "Bitwise operators"),
    ("x @ y", "The @ operator is not allowed"),
    ("import os", "Not a valid expression"),
    ("x; import os", "Not a valid expression"),
    ("x = 1", "Not a valid expression"),
    ("'\x00'", "Not a valid expression"),
    ("${approved}", "Camunda '${...}' expressions are not supported"),
    ("b'bytes'", "Only text, numbers, True, False and None"),
    ("1j", "Only text, numbers, True, False and None"),
    ("...", "Only text, numbers, True, False and None"),
    ("x is y", "'is' may only be used as 'is None' or 'is not None'"),
    ("1e999", "not a finite number"),
    ("100000000000000000000", "The number is too large"),
    ("'" + "a" * 2001 + "'", "The expression is too long"),
    ("(" * _NESTED + "1" + ")" * _NESTED, "Not a valid expression"),
    ("[" * _NESTED + "]" * _NESTED, "Not a valid expression"),
    ("-" * 1999 + "1", "nested too deeply"),
    ("not " * 450 + "x", "nested too deeply"),
    ("x" + "[0]" * 600, "nested too deeply"),
    ("1" + " + 1" * 40, "nested too deeply"),
    ("[" + "1," * 600 + "]", "more than 500 parts"),
    ("", "The expression is empty"),
]


@pytest.mark.parametrize(("source", "message"), COMPILE_TIME_ESCAPES)
def test_escape_refused_at_compile_time(source: str, message: str, no_side_effects: Path) -> None:
    with pytest.raises(ExpressionError) as refused:
        compile_expression(source.replace("SENTINEL", str(no_side_effects)))
    assert message in str(refused.value)


# ---------------------------------------------------------------- escape attempts refused when evaluated

_CYCLE_A: list[Any] = []
_CYCLE_A.append(_CYCLE_A)
_CYCLE_B: list[Any] = []
_CYCLE_B.append(_CYCLE_B)

EVALUATION_TIME_ESCAPES = [
    ("'x' * n", {"n": 10_000_000_000}, "The result would be too large"),
    ("[1] * n", {"n": 1_000_000_000}, "The result would be too large"),
    ("n * [1]", {"n": 1_000_000_000}, "The result would be too large"),
    ("'abc' * 1000000000", {}, "The result would be too large"),
    ("[[1] * 100] * 101", {}, "The result would be too large"),
    ("s + s", {"s": "x" * 6000}, "The result would be too large"),
    ("[a, a, a]", {"a": list(range(4000))}, "The result would be too large"),
    ("str(cycle)", {"cycle": _CYCLE_A}, "too large to turn into text"),
    ("a == b", {"a": _CYCLE_A, "b": _CYCLE_B}, "'==' failed"),
    ("fmt % d", {"fmt": "%(a)s", "d": {"a": 1}}, "Text formatting with % is not allowed"),
    ("fmt % x", {"fmt": "%s", "x": 1}, "Text formatting with % is not allowed"),
    ("int('9' * 100000)", {}, "The result would be too large"),
    ("int(nines)", {"nines": "9" * 5000}, "int(): cannot read"),
    ("add_months(now(), 1000000000000)", {}, "add_months(): the result would be outside the years 1 to 9999"),
    ("duration('P99999999999D')", {}, "duration(): a duration may not be longer than 10,000 years"),
    ("now() + duration('P9000Y')", {}, "'+' failed"),
    ("add_working_days(today(), 100000000)", {}, "add_working_days(): at most"),
    ("big * 2", {"big": 10**30}, "The number is too large"),
    ("n * n * n", {"n": 10**9}, "The number is too large"),
    ("n + n", {"n": 10**18}, "The number is too large"),
    ("int(1e300)", {}, "The number is too large"),
    ("round(5, -1000000)", {}, "round(): can round to at most 15 digits"),
    ("float('nan')", {}, "float(): cannot read"),
    ("float('inf') > 1", {}, "float(): cannot read"),
    ("x[::0]", {"x": [1, 2]}, "Cannot slice"),
    ("hostile == 1", {"hostile": Hostile()}, "The value of 'hostile' is a Hostile, which expressions cannot use"),
    ("items[0] == 1", {"items": [Hostile()]}, "The item taken is a Hostile"),
    ("str(items)", {"items": [Hostile()]}, "str(): A value inside the collection is a Hostile"),
    ("[items]", {"items": [Hostile()]}, "A value inside the collection is a Hostile"),
    ("x", {"x": b"bytes"}, "The value of 'x' is a bytes"),
    ("undefined", {}, "Unknown name 'undefined'"),
    ("request['__class__']", {"request": {}}, "Key '__class__' not found"),
]


@pytest.mark.parametrize(("source", "variables", "message"), EVALUATION_TIME_ESCAPES)
def test_escape_refused_at_evaluation(
    source: str, variables: dict[str, Any], message: str, clock: FakeClock, no_side_effects: Path
) -> None:
    compiled = compile_expression(source)
    with pytest.raises(ExpressionError) as refused:
        compiled.evaluate(variables, clock=clock)
    assert message in str(refused.value)


def test_huge_slice_steps_are_harmless() -> None:
    assert evaluate("x[::1000000000000000000]", {"x": [1, 2, 3]}) == [1]
    assert evaluate("x[::step]", {"x": "abc", "step": 10**30}) == "a"


def test_the_step_budget_stops_an_evaluation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(expressions, "MAX_STEPS", 5)
    with pytest.raises(ExpressionError, match="too many steps"):
        compile_expression("1 + 2 + 3 + 4").evaluate({})


# ---------------------------------------------------------------- script escape attempts

SCRIPT_ESCAPES = [
    ("a = 1\nx = ", "Line 2: 'x = ' is not of the form name = expression"),
    ("__class__ = 1", "Line 1: names starting with '_' cannot be assigned: '__class__'"),
    ("_x = 1", "Line 1: names starting with '_' cannot be assigned"),
    ("a.b = 1", "Line 1: 'a.b = 1' is not of the form name = expression"),
    ("a[0] = 1", "Line 1: 'a[0] = 1' is not of the form name = expression"),
    ("a, b = 1, 2", "is not of the form name = expression"),
    ("a += 1", "is not of the form name = expression"),
    ("a: int = 1", "is not of the form name = expression"),
    ("del x", "Line 1: 'del x' is not of the form name = expression"),
    ("import os", "Line 1: 'import os' is not of the form name = expression"),
    ("def f(): pass", "is not of the form name = expression"),
    ("a == 1", "is not of the form name = expression"),
    ("a = 1; import os", "Line 1: write one assignment per line (';' is not allowed)"),
    ("a = b = 1", "Line 1: Not a valid expression"),
    ("None = 1", "Line 1: 'None' is a reserved word and cannot be assigned"),
    ("a = 1\nimport = 2", "Line 2: 'import' is a reserved word"),
    ("a = __import__('os')", "Line 1: '__import__' is not one of the functions"),
    ("a = 1\rb = ().__class__", "Line 2: Attribute access is not allowed"),
    ('a = "x\nimport os"', "Line 1: Not a valid expression"),
    ("a = '''x\nb = 1'''", "Line 1: Not a valid expression"),
    ("a = 1 + \\\n2", "Line 1: Not a valid expression"),
    ("a = 1\n\n# fine\nb = open('SENTINEL', 'w')", "Line 4: 'open' is not one of the functions"),
    ("a = 1\n" * 10_001, "The script is too long"),
]


@pytest.mark.parametrize(("source", "message"), SCRIPT_ESCAPES)
def test_script_escape_refused(source: str, message: str, no_side_effects: Path) -> None:
    with pytest.raises(ExpressionError) as refused:
        compile_script(source.replace("SENTINEL", str(no_side_effects)))
    assert message in str(refused.value)


def test_an_escaped_newline_in_text_is_just_text() -> None:
    script = compile_script('a = "x\\nimport os"')
    assert script.run({}) == {"a": "x\nimport os"}


def test_a_script_cannot_amplify_values_line_by_line() -> None:
    script = compile_script("a = [1] * 5000\nb = [a, a, a]")
    with pytest.raises(ExpressionError, match="Line 2: The result would be too large"):
        script.run({})


# ---------------------------------------------------------------- operators

OPERATORS = [
    ("1 + 2 * 3", 7),
    ("(1 + 2) * 3", 9),
    ("7 - 10", -3),
    ("7 / 2", 3.5),
    ("7 // 2", 3),
    ("-7 // 2", -4),
    ("7 % 3", 1),
    ("-count", -3),
    ("+price", 2.5),
    ("price * 2", 5.0),
    ("'ab' + 'cd'", "abcd"),
    ("'ab' * 3", "ababab"),
    ("[1] + [2]", [1, 2]),
    ("(1,) * 2", (1, 1)),
    ("1 < 2 < 3", True),
    ("1 < 3 < 2", False),
    ("count == 3 != 4", True),
    ("count >= 3 and count <= 3", True),
    ("'dpo' in tags", True),
    ("'x' not in tags", True),
    ("'a' in flags", True),
    ("'lic' in name", True),
    ("nothing is None", True),
    ("count is not None", True),
    ("not empty", True),
    ("empty or 'default'", "default"),
    ("name and count", 3),
    ("False and undefined", False),  # short-circuit: the unknown name is never looked up
    ("True or undefined", True),
    ("'yes' if count > 2 else 'no'", "yes"),
    ("'yes' if count > 5 else undefined_is_fine_here if False else 'no'", "no"),
    ("request['status']", "approved"),
    ("request['recordings'][-1]", "r3"),
    ("request['recordings'][1:]", ["r2", "r3"]),
    ("request['recordings'][::-1]", ["r3", "r2", "r1"]),
    ("name[2:7]", "Alice"),
    ("[1, 'a', None]", [1, "a", None]),
    ("(1, 2)", (1, 2)),
    ("{1, 2, 2}", {1, 2}),
    ("{'a': count, 'b': [1]}", {"a": 3, "b": [1]}),
    ("{}", {}),
    ("received < now()", True),
    ("now() - received", timedelta(days=3, hours=19)),
    ("now() - received > duration('P3D')", True),
    ("now() - received < duration('PT72H')", False),
    ("received + duration('P1M')", datetime(2026, 2, 26, 14, 0, tzinfo=UTC)),
    ("received - duration('P1D')", datetime(2026, 1, 25, 14, 0, tzinfo=UTC)),
    ("deadline - duration('P1M')", date(2026, 1, 27)),
    ("deadline - date('2026-02-20')", timedelta(days=7)),
    ("-duration('P1D')", Duration(days=-1)),
    ("duration('P1D') + duration('PT1H')", Duration(days=1, seconds=3600)),
    ("now() == '2026-01-30T09:00:00+00:00'", False),  # a string is a string: no coercion
]


@pytest.mark.parametrize(("source", "expected"), OPERATORS)
def test_operator(source: str, expected: Any, task_data: dict[str, Any], clock: FakeClock) -> None:
    assert evaluate(source, task_data, clock=clock) == expected


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("'a' + 1", "Cannot use '+' with text and a number"),
        ("'a' < 1", "Cannot compare text with a number using '<'"),
        ("now() < '2026-02-01'", "Cannot compare a date-time with text using '<'"),
        ("1 / 0", "Division by zero"),
        ("count % 0", "Division by zero"),
        ("-'a'", "Cannot use '-' with text"),
        ("request[0]", "Key 0 not found"),
        ("tags[5]", "Index 5 is out of range (2 items)"),
        ("tags['a']", "Cannot take an item from a list with text"),
        ("count[0]", "Cannot take an item from a number"),
        ("request[1:2]", "Cannot take a slice from a mapping"),
        ("tags[1.5:]", "Slice positions must be whole numbers"),
        ("{tags: 1}", "Lists and mappings cannot be mapping keys"),
        ("{tags}", "Lists and mappings cannot be put in a set"),
        ("duration('P1M') < duration('P30D')", "no fixed length"),
    ],
)
def test_evaluation_errors_are_plain(source: str, message: str, task_data: dict[str, Any]) -> None:
    with pytest.raises(ExpressionError) as failed:
        evaluate(source, task_data)
    assert message in str(failed.value)


# ---------------------------------------------------------------- helpers

HELPER_EXAMPLES = [
    ("now()", FRIDAY_0900),
    ("today()", date(2026, 1, 30)),
    ("duration('P5D')", Duration(days=5)),
    ("duration('P1Y2M')", Duration(years=1, months=2)),
    ("date('2026-01-31')", date(2026, 1, 31)),
    ("date(received)", date(2026, 1, 26)),
    ("datetime('2026-01-31T09:00Z')", datetime(2026, 1, 31, 9, tzinfo=UTC)),
    ("datetime('2026-07-01T09:00+01:00')", datetime(2026, 7, 1, 8, tzinfo=UTC)),
    ("datetime(received)", datetime(2026, 1, 26, 14, tzinfo=UTC)),
    ("add_months(date('2026-01-31'), 1)", date(2026, 2, 28)),
    ("add_months(received, -2)", datetime(2025, 11, 26, 14, tzinfo=UTC)),
    ("add_working_days(date('2026-12-24'), 1)", date(2026, 12, 29)),
    ("add_working_days(today(), -1)", date(2026, 1, 29)),
    ("add_working_days(now(), 1)", datetime(2026, 2, 2, 9, tzinfo=UTC)),
    ("working_days_between(received, now())", 4),
    ("working_days_between(date('2026-12-24'), date('2027-01-04'))", 4),
    ("is_working_day(date('2026-12-28'))", False),
    ("is_working_day(today())", True),
    ("year(deadline)", 2026),
    ("month(deadline)", 2),
    ("day(deadline)", 27),
    ("weekday(today())", 5),
    ("hour(now())", 9),
    ("minute(received)", 0),
    ("len(tags)", 2),
    ("len(name)", 14),
    ("len(request)", 3),
    ("lower('ABC')", "abc"),
    ("upper(request['status'])", "APPROVED"),
    ("strip(name)", "Alice Smith"),
    ("str(count)", "3"),
    ("str(deadline)", "2026-02-27"),
    ("str(now())", "2026-01-30T09:00:00+00:00"),
    ("str(duration('P1Y2M'))", "P1Y2M"),
    ("int('42')", 42),
    ("int(' -7 ')", -7),
    ("int(3.9)", 3),
    ("int(True)", 1),
    ("float('2.5')", 2.5),
    ("float(3)", 3.0),
    ("bool('')", False),
    ("bool(tags)", True),
    ("abs(-4)", 4),
    ("abs(received - now())", timedelta(days=3, hours=19)),
    ("min(3, 1, 2)", 1),
    ("min(tags)", "dpo"),
    ("max([4, 9, 2])", 9),
    ("max(received, now())", FRIDAY_0900),
    ("round(2.567, 2)", 2.57),
    ("round(2.5)", 2),
    ("round(count)", 3),
    ("contains(tags, 'urgent')", True),
    ("contains(name, 'Smith')", True),
    ("contains(request, 'status')", True),
    ("startswith(strip(name), 'Alice')", True),
    ("endswith(request['reason'], 'x')", False),
    ("is_empty(empty)", True),
    ("is_empty('   ')", True),
    ("is_empty(nothing)", True),
    ("is_empty([])", True),
    ("is_empty(0)", False),
    ("is_empty(tags)", False),
    ("get(request, 'status')", "approved"),
    ("get(request, 'missing', 'n/a')", "n/a"),
    ("get(get(request, 'missing'), 'deeper')", None),
    ("get(tags, 5, 'none')", "none"),
    ("get(tags, -1)", "dpo"),
]


@pytest.mark.parametrize(("source", "expected"), HELPER_EXAMPLES)
def test_helper(source: str, expected: Any, task_data: dict[str, Any], clock: FakeClock) -> None:
    assert evaluate(source, task_data, clock=clock) == expected


def test_every_helper_has_an_example() -> None:
    used = {name for source, _ in HELPER_EXAMPLES for name in HELPERS if f"{name}(" in source}
    assert used == set(HELPERS)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("lower(1)", "lower(): needs text, not a number"),
        ("len(count)", "len(): needs text or a collection, not a number"),
        ("add_months(today(), 1.5)", "add_months(): needs a whole number, not a number"),
        ("add_working_days('2026-01-01', 1)", "add_working_days(): needs a date or date-time, not text"),
        ("hour(today())", "hour(): needs a date-time, not a date"),
        ("date('31/01/2026')", "date(): not a valid date: '31/01/2026' (write YYYY-MM-DD)"),
        ("datetime('tomorrow')", "datetime(): not a valid date-time"),
        ("duration('5 days')", "duration(): not a valid ISO-8601 duration"),
        ("int('4.5')", "int(): cannot read '4.5' as a whole number"),
        ("min([])", "min(): needs at least one value"),
        ("max(5)", "max(): needs a list or two or more values, not a number"),
        ("min(1, 'a')", "min(): "),
        ("get(count, 1)", "get(): needs a mapping or a list, not a number"),
        ("contains(count, 1)", "contains(): needs text or a collection"),
        ("startswith(name, 1)", "startswith(): needs text"),
    ],
)
def test_helper_failures_name_the_helper(source: str, message: str, task_data: dict[str, Any]) -> None:
    with pytest.raises(ExpressionError) as failed:
        evaluate(source, task_data)
    assert message in str(failed.value)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("now(1)", "now() takes 0 argument(s), 1 given"),
        ("len()", "len() takes 1 argument(s), 0 given"),
        ("round(1, 2, 3)", "round() takes 1 to 2 argument(s), 3 given"),
        ("min()", "min() takes at least 1 argument(s), 0 given"),
    ],
)
def test_helper_arity_is_checked_at_compile_time(source: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        compile_expression(source)


def test_today_is_the_london_calendar_date() -> None:
    late_summer_evening = FakeClock(datetime(2026, 6, 30, 23, 30, tzinfo=UTC))  # 00:30 on 1 July in London
    assert evaluate("today()", {}, clock=late_summer_evening) == date(2026, 7, 1)
    assert evaluate("now()", {}, clock=late_summer_evening).tzinfo is UTC
    assert evaluate("hour(now())", {}, clock=late_summer_evening) == 0


def test_now_uses_the_system_clock_by_default() -> None:
    before = datetime.now(UTC)
    moment = evaluate("now()", {})
    assert before <= moment <= datetime.now(UTC)
    assert moment.tzinfo is UTC


def test_helper_names_are_not_variables() -> None:
    assert evaluate("date", {"date": "a form field called date"}) == "a form field called date"
    assert evaluate("len(len)", {"len": [1, 2]}) == 2


def test_helper_table_and_compiled_expressions_are_read_only() -> None:
    with pytest.raises(TypeError):
        HELPERS["system"] = HELPERS["len"]  # type: ignore[index]
    compiled = compile_expression("count > 1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        compiled.source = "open('x')"  # type: ignore[misc]


# ---------------------------------------------------------------- compiling and caching


def test_compile_then_evaluate_many_times(task_data: dict[str, Any]) -> None:
    compiled = compile_expression("  request['status'] == 'approved'\n")
    assert isinstance(compiled, CompiledExpression)
    assert compiled.source == "  request['status'] == 'approved'\n"
    assert compiled.evaluate(task_data) is True
    assert compiled.evaluate({"request": {"status": "refused"}}) is False


def test_unknown_names_are_found_at_evaluation_not_compile_time() -> None:
    compiled = compile_expression("missing_field == 1")
    with pytest.raises(ExpressionError, match="Unknown name 'missing_field'"):
        compiled.evaluate({})


def test_an_expression_must_be_text() -> None:
    with pytest.raises(ExpressionError, match="must be text"):
        compile_expression(42)  # type: ignore[arg-type]
    with pytest.raises(ExpressionError, match="must be text"):
        evaluate(["1"], {})  # type: ignore[arg-type]


def test_evaluate_caches_compiled_expressions() -> None:
    expressions._compile_cached.cache_clear()
    assert evaluate("count + 1", {"count": 1}) == 2
    assert evaluate("count + 1", {"count": 41}) == 42
    info = expressions._compile_cached.cache_info()
    assert (info.hits, info.misses) == (1, 1)
    for _ in range(2):  # a refusal is not cached: it is raised every time
        with pytest.raises(ExpressionError):
            evaluate("x.__class__", {})


@pytest.mark.parametrize("source", [r"'C:\docs'", r"'a' + '\d'", r'"""\w"""', r"u'\q'"])
def test_invalid_escape_sequences_in_text_are_refused(source: str) -> None:
    with pytest.raises(ExpressionError, match="invalid escape sequence"):
        compile_expression(source)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (r"'a\nb'", "a\nb"),
        (r"'C:\\docs'", "C:\\docs"),
        (r"r'C:\docs'", "C:\\docs"),
        (r"'\x41\u00e9\N{BULLET}'", "A\u00e9\N{BULLET}"),
        (r"'it\'s'", "it's"),
    ],
)
def test_valid_escape_sequences_are_accepted(source: str, expected: str) -> None:
    assert evaluate(source, {}) == expected


# ---------------------------------------------------------------- scripts


def test_script_lines_run_in_order_and_see_earlier_assignments(clock: FakeClock) -> None:
    script = compile_script(
        "# work out the retention date\r\n"
        "\r\n"
        "retain_until = add_months(today(), months)\r\n"
        "months = months + 1   # reassigning keeps the first position\r\n"
        "label = 'retain until ' + str(retain_until)\r\n"
    )
    variables = {"months": 6}
    assert script.targets == ("retain_until", "months", "label")
    assert script.run(variables, clock=clock) == {
        "retain_until": date(2026, 7, 30),
        "months": 7,
        "label": "retain until 2026-07-30",
    }
    assert variables == {"months": 6}


def test_a_script_with_only_comments_assigns_nothing() -> None:
    script = compile_script("# nothing to do\n\n")
    assert script.targets == ()
    assert script.run({}) == {}


def test_script_evaluation_errors_name_the_line() -> None:
    script = compile_script("a = 1\n\nb = a + missing")
    with pytest.raises(ExpressionError, match="Line 3: Unknown name 'missing'"):
        script.run({})


def test_script_source_is_kept() -> None:
    assert compile_script("a = 1").source == "a = 1"


# ---------------------------------------------------------------- timer literals


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01", datetime(2026, 12, 1, tzinfo=UTC)),
        ("2026-12-01T09:00:00Z", datetime(2026, 12, 1, 9, tzinfo=UTC)),
        ("2026-12-01T09:00:00", datetime(2026, 12, 1, 9, tzinfo=UTC)),  # naive means UTC
        ("2026-07-01T09:00+01:00", datetime(2026, 7, 1, 8, tzinfo=UTC)),
        ("  P5D  ", timedelta(days=5)),
        ("PT72H", timedelta(hours=72)),
        ("P2W", timedelta(days=14)),
        ("P1DT12H", timedelta(days=1, hours=12)),
        ("P1Y2M", Duration(years=1, months=2)),
        ("P1M", Duration(months=1)),
        ("R/P3Y", TimerCycle(None, None, Duration(years=3))),
        ("R3/PT1H", TimerCycle(3, None, Duration(seconds=3600))),
        (
            "R/2026-01-01T00:00:00Z/P1D",
            TimerCycle(None, datetime(2026, 1, 1, tzinfo=UTC), Duration(days=1)),
        ),
        ("R12/2026-01-05/P1M", TimerCycle(12, datetime(2026, 1, 5, tzinfo=UTC), Duration(months=1))),
    ],
)
def test_timer_literal(text: str, expected: Any) -> None:
    parsed = parse_timer_literal(text)
    assert parsed == expected
    assert type(parsed) is type(expected)


@pytest.mark.parametrize(
    "text", ["due_date", "add_working_days(today(), 5)", "PT", "P", "R/2", "Priority == 'high'", ""]
)
def test_expressions_are_not_timer_literals(text: str) -> None:
    assert parse_timer_literal(text) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("P1", "not a valid ISO-8601 duration"),
        ("P5X", "not a valid ISO-8601 duration"),
        ("P0.5D", "not a valid ISO-8601 duration"),
        ("PT1H garbage", "not a valid ISO-8601 duration"),
        ("P99999999999D", "10,000 years"),
        ("2026-02-30", "not a valid date-time"),
        ("2026-12-01T9:00", "not a valid date-time"),
        ("R0/P1D", "must repeat at least once"),
        ("R/P0D", "period must be longer than zero"),
        ("R/P1D/2026-01-01", "write a repeating timer as R[n]/period or R[n]/start/period"),
        ("R/2026-01-01/P1D/P2D", "write a repeating timer as"),
        ("R/2026-01-01", "not a valid ISO-8601 duration"),
        ("R/2026-13-01/P1D", "not a valid date-time"),
    ],
)
def test_malformed_timer_literals_are_refused(text: str, message: str) -> None:
    with pytest.raises(ExpressionError) as refused:
        parse_timer_literal(text)
    assert str(refused.value).startswith("Not a valid timer: ")
    assert message in str(refused.value)
