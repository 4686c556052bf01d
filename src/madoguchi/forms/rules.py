"""Conditions (visibility, required-ness) and computed values, evaluated on the server.

Both are data, not code: a small closed language that cannot run anything else.

Condition: ``{"field": "k", "equals": v}`` (also ``not_equals``, ``in``, ``not_in``,
``filled``, ``empty``, ``gt``, ``gte``, ``lt``, ``lte``), ``{"all": [...]}``,
``{"any": [...]}``, ``{"not": {...}}``.

Expression: a number, ``{"field": "k"}``, ``{"add": [...]}``, ``{"subtract": [a, b]}``,
``{"multiply": [...]}``, ``{"count": "group"}``, ``{"sum": {"group": g, "field": k}}``,
``{"min": [...]}``, ``{"max": [...]}``, ``{"if": cond, "then": e, "else": e}``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

OPERATORS = ("equals", "not_equals", "in", "not_in", "filled", "empty", "gt", "gte", "lt", "lte")

CONDITION_SCHEMA: dict[str, Any] = {
    "oneOf": [
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["field"],
            "minProperties": 2,
            "maxProperties": 2,
            "properties": {
                "field": {"type": "string", "maxLength": 130},
                "equals": {"type": ["string", "number", "boolean"]},
                "not_equals": {"type": ["string", "number", "boolean"]},
                "in": {"type": "array", "items": {"type": ["string", "number"]}, "maxItems": 200},
                "not_in": {
                    "type": "array",
                    "items": {"type": ["string", "number"]},
                    "maxItems": 200,
                },
                "filled": {"const": True},
                "empty": {"const": True},
                "gt": {"type": ["number", "string"]},
                "gte": {"type": ["number", "string"]},
                "lt": {"type": ["number", "string"]},
                "lte": {"type": ["number", "string"]},
            },
        },
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["all"],
            "properties": {
                "all": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 20,
                    "items": {"$ref": "#/$defs/condition"},
                }
            },
        },
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["any"],
            "properties": {
                "any": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 20,
                    "items": {"$ref": "#/$defs/condition"},
                }
            },
        },
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["not"],
            "properties": {"not": {"$ref": "#/$defs/condition"}},
        },
    ]
}

_LIST_OPS = ("add", "multiply", "min", "max")
EXPRESSION_SCHEMA: dict[str, Any] = {
    "oneOf": [
        {"type": "number"},
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["field"],
            "properties": {"field": {"type": "string", "maxLength": 130}},
        },
        *(
            {
                "type": "object",
                "additionalProperties": False,
                "required": [op],
                "properties": {
                    op: {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 20,
                        "items": {"$ref": "#/$defs/expression"},
                    }
                },
            }
            for op in _LIST_OPS
        ),
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["subtract"],
            "properties": {
                "subtract": {
                    "type": "array",
                    "minItems": 2,
                    "maxItems": 2,
                    "items": {"$ref": "#/$defs/expression"},
                }
            },
        },
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["count"],
            "properties": {"count": {"type": "string", "maxLength": 64}},
        },
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["sum"],
            "properties": {
                "sum": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["group", "field"],
                    "properties": {"group": {"type": "string"}, "field": {"type": "string"}},
                }
            },
        },
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["if", "then", "else"],
            "properties": {
                "if": {"$ref": "#/$defs/condition"},
                "then": {"$ref": "#/$defs/expression"},
                "else": {"$ref": "#/$defs/expression"},
            },
        },
    ]
}


def condition_fields(condition: Mapping[str, Any]) -> Iterator[str]:
    """Every field key a condition refers to."""
    if "field" in condition:
        yield condition["field"]
    for key in ("all", "any"):
        for item in condition.get(key, ()):
            yield from condition_fields(item)
    if "not" in condition:
        yield from condition_fields(condition["not"])


def expression_fields(expression: Any) -> Iterator[str]:
    """Every field key (or ``group.field``) an expression refers to."""
    if not isinstance(expression, Mapping):
        return
    if "field" in expression:
        yield expression["field"]
    for op in (*_LIST_OPS, "subtract"):
        for item in expression.get(op, ()):
            yield from expression_fields(item)
    if "count" in expression:
        yield expression["count"]
    if "sum" in expression:
        yield f"{expression['sum']['group']}.{expression['sum']['field']}"
    if "if" in expression:
        yield from condition_fields(expression["if"])
        yield from expression_fields(expression["then"])
        yield from expression_fields(expression["else"])


def _comparable(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float | Decimal | str):
        try:
            number = Decimal(str(value))
        except ArithmeticError:
            return value
        # "NaN", "sNaN" and "Infinity" are not amounts: a NaN cannot even be compared.
        return number if number.is_finite() else value
    return value


def _filled(value: Any) -> bool:
    return value not in (None, "", [], {}, False)


def evaluate(condition: Mapping[str, Any], lookup: Mapping[str, Any]) -> bool:
    """Evaluate a condition against normalised answers (missing answers are empty)."""
    if "all" in condition:
        return all(evaluate(c, lookup) for c in condition["all"])
    if "any" in condition:
        return any(evaluate(c, lookup) for c in condition["any"])
    if "not" in condition:
        return not evaluate(condition["not"], lookup)
    value = lookup.get(condition["field"])
    if "filled" in condition:
        return _filled(value)
    if "empty" in condition:
        return not _filled(value)
    if "equals" in condition:
        target = condition["equals"]
        if isinstance(value, list):
            return target in value
        return bool(_comparable(value) == _comparable(target))
    if "not_equals" in condition:
        target = condition["not_equals"]
        if isinstance(value, list):
            return target not in value
        return bool(_comparable(value) != _comparable(target))
    if "in" in condition:
        if isinstance(value, list):
            return any(v in condition["in"] for v in value)
        return value in condition["in"]
    if "not_in" in condition:
        if isinstance(value, list):
            return not any(v in condition["not_in"] for v in value)
        return value not in condition["not_in"]
    for op in ("gt", "gte", "lt", "lte"):
        if op in condition:
            left, right = _comparable(value), _comparable(condition[op])
            if left is None or type(left) is not type(right):
                return False
            return bool(
                {
                    "gt": left > right,
                    "gte": left >= right,
                    "lt": left < right,
                    "lte": left <= right,
                }[op]
            )
    return False


def compute(
    expression: Any, lookup: Mapping[str, Any], groups: Mapping[str, list[Mapping[str, Any]]]
) -> Decimal:
    """Evaluate an expression; missing or non-numeric answers count as 0."""
    if isinstance(expression, bool):
        return Decimal(int(expression))
    if isinstance(expression, int | float):
        return Decimal(str(expression))
    if "field" in expression:
        value = lookup.get(expression["field"])
        if isinstance(value, bool):
            return Decimal(int(value))
        comparable = _comparable(value)
        return comparable if isinstance(comparable, Decimal) else Decimal(0)
    if "add" in expression:
        return sum((compute(e, lookup, groups) for e in expression["add"]), Decimal(0))
    if "multiply" in expression:
        result = Decimal(1)
        for e in expression["multiply"]:
            result *= compute(e, lookup, groups)
        return result
    if "min" in expression:
        return min(compute(e, lookup, groups) for e in expression["min"])
    if "max" in expression:
        return max(compute(e, lookup, groups) for e in expression["max"])
    if "subtract" in expression:
        a, b = expression["subtract"]
        return compute(a, lookup, groups) - compute(b, lookup, groups)
    if "count" in expression:
        return Decimal(len(groups.get(expression["count"], [])))
    if "sum" in expression:
        spec = expression["sum"]
        total = Decimal(0)
        for item in groups.get(spec["group"], []):
            comparable = _comparable(item.get(spec["field"]))
            if isinstance(comparable, Decimal):
                total += comparable
        return total
    if "if" in expression:
        branch = expression["then"] if evaluate(expression["if"], lookup) else expression["else"]
        return compute(branch, lookup, groups)
    return Decimal(0)
