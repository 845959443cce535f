"""The gateway condition language: comparisons over case data, never Python.

A condition is checked against a strict whitelist of syntax and then interpreted by a few
closures; nothing is ever passed to ``eval``, ``exec`` or ``compile``.  Accepted::

    area_m2 > 500 and kind in ['new', 'renewal']
    not eligible or applicant.age >= 18          # dotted names look up nested keys
    ${approved && !rejected}                     # Camunda-style wrapper and aliases
    status == null                               # true/false/null as well as True/False/None

Missing names are ``None``; an ordering comparison with ``None`` or between values of different
kinds is false, never an error, so a case's data can never make a gateway raise.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MAX_CONDITION_DEPTH", "MAX_CONDITION_LENGTH", "Condition", "ExpressionError", "compile_condition"]

MAX_CONDITION_LENGTH = 1000
MAX_CONDITION_DEPTH = 32

_Fn = Callable[[Mapping[str, Any]], Any]
_LITERAL_NAMES: dict[str, Any] = {"true": True, "false": False, "null": None}
_ALIASES = {"&&": " and ", "||": " or "}
_REFUSED: dict[type[ast.AST], str] = {
    ast.Call: "function calls are not allowed",
    ast.Subscript: "subscripts are not allowed",
    ast.Lambda: "lambdas are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.FormattedValue: "f-strings are not allowed",
    ast.BinOp: "arithmetic is not allowed",
    ast.IfExp: "conditional expressions (x if c else y) are not allowed",
    ast.NamedExpr: "assignments are not allowed",
    ast.Dict: "dict literals are not allowed",
    ast.Set: "set literals are not allowed",
    ast.Starred: "starred expressions are not allowed",
    ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
    ast.Slice: "slices are not allowed",
}
_ORDERING: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
}


class ExpressionError(ValueError):
    """A condition outside the procedure expression language."""


@dataclass(frozen=True)
class Condition:
    """A compiled condition; ``evaluate`` never raises for any case data."""

    text: str
    names: frozenset[str]
    _fn: _Fn = field(repr=False, compare=False)

    def evaluate(self, data: Mapping[str, Any]) -> bool:
        try:
            return bool(self._fn(data))
        except Exception:  # a data value with a hostile __eq__/__bool__ must not stop a case
            return False


def compile_condition(text: str) -> Condition:
    """Check ``text`` against the language and compile it; raises ``ExpressionError``."""
    if not isinstance(text, str):
        raise ExpressionError(f"a condition must be text, got {type(text).__name__}")
    if len(text) > MAX_CONDITION_LENGTH:
        raise ExpressionError(
            f"condition is too long ({len(text)} characters; the limit is {MAX_CONDITION_LENGTH})"
        )
    source = _normalise(_unwrap(text))
    if not source.strip():
        raise ExpressionError("condition is empty")
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as err:
        raise ExpressionError(f"invalid condition syntax: {err.msg} (column {err.offset or 0})") from None
    except (ValueError, MemoryError, RecursionError) as err:
        raise ExpressionError(f"invalid condition: {err}") from None
    names: set[str] = set()
    fn = _Compiler(source.strip(), names).compile(tree.body, 0)
    return Condition(text=text, names=frozenset(names), _fn=fn)


def _too_deep() -> ExpressionError:
    return ExpressionError(f"condition is nested too deeply (more than {MAX_CONDITION_DEPTH} levels)")


def _unwrap(text: str) -> str:
    stripped = text.strip()
    if stripped.startswith("${") and stripped.endswith("}"):
        return stripped[2:-1]
    return stripped


def _normalise(text: str) -> str:
    """Replace ``&&``/``||``/``!`` and line breaks outside string literals; check bracket depth."""
    out: list[str] = []
    quote: str | None = None
    depth = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if quote is not None:
            out.append(ch)
            if ch == "\\" and i + 1 < len(text):
                out.append(text[i + 1])
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
            out.append(ch)
        elif text[i : i + 2] in _ALIASES:
            out.append(_ALIASES[text[i : i + 2]])
            i += 1
        elif ch == "!" and text[i + 1 : i + 2] != "=":
            out.append(" not ")
        elif ch in "\r\n\t":
            out.append(" ")
        else:
            if ch in "([{":
                depth += 1
                if depth > MAX_CONDITION_DEPTH:
                    raise _too_deep()
            elif ch in ")]}":
                depth -= 1
            out.append(ch)
        i += 1
    return "".join(out)


class _Compiler:
    def __init__(self, source: str, names: set[str]):
        self.source = source
        self.names = names

    def refuse(self, what: str, node: ast.AST) -> ExpressionError:
        snippet = ast.get_source_segment(self.source, node) or ""
        if len(snippet) > 60:
            snippet = snippet[:57] + "..."
        return ExpressionError(f"{what}: {snippet}" if snippet else what)

    def compile(self, node: ast.AST, depth: int) -> _Fn:
        if depth > MAX_CONDITION_DEPTH:
            raise _too_deep()
        for kind, why in _REFUSED.items():
            if isinstance(node, kind):
                raise self.refuse(why, node)
        if isinstance(node, ast.BoolOp):
            return self._bool_op(node, depth)
        if isinstance(node, ast.UnaryOp):
            return self._unary(node, depth)
        if isinstance(node, ast.Compare):
            return self._compare(node, depth)
        if isinstance(node, ast.Constant):
            value = _literal(node)
            if value is _NOT_LITERAL:
                raise self.refuse(f"{type(node.value).__name__} literals are not allowed", node)
            return lambda data: value
        if isinstance(node, ast.Name | ast.Attribute):
            return self._name(node)
        if isinstance(node, ast.List | ast.Tuple):
            items = [self.compile(item, depth + 1) for item in node.elts]
            return lambda data: tuple(item(data) for item in items)
        raise self.refuse(f"{type(node).__name__} expressions are not allowed", node)

    def _bool_op(self, node: ast.BoolOp, depth: int) -> _Fn:
        parts = [self.compile(value, depth + 1) for value in node.values]
        if isinstance(node.op, ast.And):
            return lambda data: all(bool(part(data)) for part in parts)
        return lambda data: any(bool(part(data)) for part in parts)

    def _unary(self, node: ast.UnaryOp, depth: int) -> _Fn:
        if isinstance(node.op, ast.Not):
            operand = self.compile(node.operand, depth + 1)
            return lambda data: not operand(data)
        if isinstance(node.op, ast.USub | ast.UAdd) and isinstance(node.operand, ast.Constant):
            value = node.operand.value
            if isinstance(value, int | float) and not isinstance(value, bool):
                number = -value if isinstance(node.op, ast.USub) else value
                return lambda data: number
        raise self.refuse("arithmetic is not allowed (only a sign on a number literal)", node)

    def _compare(self, node: ast.Compare, depth: int) -> _Fn:
        operands = [self.compile(operand, depth + 1) for operand in (node.left, *node.comparators)]
        tests = [self._comparison(op, node) for op in node.ops]

        def compare(data: Mapping[str, Any]) -> bool:
            left = operands[0](data)
            for test, operand in zip(tests, operands[1:], strict=True):
                right = operand(data)
                if not test(left, right):
                    return False
                left = right
            return True

        return compare

    def _comparison(self, op: ast.cmpop, node: ast.Compare) -> Callable[[Any, Any], bool]:
        if isinstance(op, ast.Eq):
            return _equal
        if isinstance(op, ast.NotEq):
            return lambda a, b: not _equal(a, b)
        if isinstance(op, ast.In):
            return lambda a, b: _member(a, b) is True
        if isinstance(op, ast.NotIn):
            return lambda a, b: _member(a, b) is False
        if type(op) in _ORDERING:
            order = _ORDERING[type(op)]
            return lambda a, b: _comparable(a, b) and order(a, b)
        raise self.refuse("identity comparisons (is / is not) are not allowed; use == null", node)

    def _name(self, node: ast.Name | ast.Attribute) -> _Fn:
        parts: list[str] = []
        current: ast.AST = node
        while isinstance(current, ast.Attribute):
            parts.append(current.attr)
            current = current.value
        if not isinstance(current, ast.Name):
            raise self.refuse("attribute access is not allowed (only dotted names like applicant.age)", node)
        parts.append(current.id)
        parts.reverse()
        for part in parts:
            if part.startswith("__"):
                raise self.refuse("names starting with '__' are not allowed", node)
        if len(parts) == 1 and parts[0] in _LITERAL_NAMES:
            literal = _LITERAL_NAMES[parts[0]]
            return lambda data: literal
        self.names.add(".".join(parts))
        path = tuple(parts)
        return lambda data: _lookup(data, path)


_NOT_LITERAL = object()


def _literal(node: ast.Constant) -> Any:
    value = node.value
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return _NOT_LITERAL


def _lookup(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _comparable(a: Any, b: Any) -> bool:
    if _is_number(a) and _is_number(b):
        return True
    return isinstance(a, str) and isinstance(b, str)


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, list):
        a = tuple(a)
    if isinstance(b, list):
        b = tuple(b)
    return bool(a == b)


def _member(item: Any, container: Any) -> bool | None:
    """``item in container``, or None when the question makes no sense (never raises)."""
    if isinstance(container, str):
        return item in container if isinstance(item, str) else None
    if isinstance(container, list | tuple):
        return any(_equal(item, element) for element in container)
    if isinstance(container, Mapping):
        try:
            return item in container
        except TypeError:
            return None
    return None
