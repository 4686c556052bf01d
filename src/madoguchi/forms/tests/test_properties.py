"""Properties that hold for every form and every answer, checked on random ones.

Definitions are built from the registered field types with options drawn from each type's own
options schema; answers are each type's example, examples with a part spoiled, and arbitrary
JSON. Whatever is drawn, validation answers (it never raises), and what it accepted validates
again to exactly the same answers.
"""

import re
import string
from typing import Any

from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

import madoguchi.forms.field_types  # noqa: F401  (registers the field types)
from madoguchi.forms.base import FieldSpec, FormSpec, field_types
from madoguchi.forms.engine import ValidationResult, validate
from madoguchi.forms.rules import OPERATORS
from madoguchi.forms.schema import InvalidDefinition, check_definition

from .factories import CTX, TODAY, definition

FAST = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
MISSING = object()

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(
        ["", " ", "はい", "2025-04-01", "令和7年4月1日", "231-0023", "ﾔﾏﾀﾞ", "NaN", "1e999"]
    )
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


# --- Options drawn from a JSON Schema (the subset the options schemas use) ---------------------


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A strategy for values valid under ``schema`` (keywords used by the options schemas)."""
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "oneOf" in schema:
        return st.one_of([from_schema(s) for s in schema["oneOf"] if "$ref" not in s])
    kind = schema.get("type")
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.integers(schema.get("minimum", -1000), schema.get("maximum", 1000))
    if kind == "number":
        low, high = schema.get("minimum", -1e6), schema.get("maximum", 1e6)
        return st.integers(int(low), int(high)) | st.floats(low, high, allow_nan=False)
    if kind == "string":
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True).filter(
                lambda s: len(s) <= schema.get("maxLength", 10**6)
            )
        return st.text(
            st.characters(codec="utf-8"),
            min_size=schema.get("minLength", 0),
            max_size=min(schema.get("maxLength", 20), 20),
        )
    if kind == "array":
        return st.lists(
            from_schema(schema["items"]),
            min_size=schema.get("minItems", 0),
            max_size=min(schema.get("maxItems", 4), 4),
            unique_by=(lambda x: repr(x)) if schema.get("uniqueItems") else None,
        )
    if kind == "object":
        properties = schema.get("properties", {})
        required = set(schema.get("required", ()))
        return st.fixed_dictionaries(
            {k: from_schema(v) for k, v in properties.items() if k in required and "$ref" not in v},
            optional={
                k: from_schema(v)
                for k, v in properties.items()
                if k not in required and "$ref" not in v
            },
        )
    raise AssertionError(f"unsupported schema {schema}")


choices = st.lists(
    st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True), min_size=1, max_size=4, unique=True
).map(lambda values: [{"value": v, "label": f"選択肢{i}"} for i, v in enumerate(values)])


@st.composite
def options_for(draw, type_key, earlier):
    """Options of a field of ``type_key``; ``earlier`` are the fields it may refer to."""
    options = draw(from_schema(field_types[type_key].options_schema))
    if type_key in ("choice", "multichoice"):
        options["choices"] = draw(choices)
    if type_key in ("date", "birth_date"):
        dates = [f["key"] for f in earlier if f["type"] in ("date", "birth_date")]
        bound: st.SearchStrategy[Any] = st.sampled_from(
            ["today", "today-18y", "today+30d", "today-130y", "2019-05-01"]
        )
        if dates:
            bound = bound | st.fixed_dictionaries(
                {"field": st.sampled_from(dates)},
                optional={"offset_days": st.integers(-400, 400)},
            )
        for name in ("min", "max"):
            options.pop(name, None)
            if draw(st.booleans()):
                options[name] = draw(bound)
    if type_key == "computed":
        numbers = [f["key"] for f in earlier if f["type"] in ("number", "yesno", "consent")]
        groups = [f for f in earlier if f["type"] == "group"]
        term: st.SearchStrategy[Any] = st.integers(-1000, 1000) | st.floats(
            -1000, 1000, allow_nan=False
        )
        if numbers:
            term = term | st.sampled_from(numbers).map(lambda k: {"field": k})
        if groups:
            term = term | st.sampled_from([g["key"] for g in groups]).map(lambda k: {"count": k})
        expression = st.recursive(
            term,
            lambda inner: st.one_of(
                st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"add": xs}),
                st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"multiply": xs}),
                st.tuples(inner, inner).map(lambda ab: {"subtract": list(ab)}),
            ),
            max_leaves=5,
        )
        options["expression"] = draw(expression)
    if type_key == "group":
        low = options.get("min_items", 0)
        if low > options.get("max_items", 10):
            options["max_items"] = max(low, 1)
    return options


SIMPLE_TYPES = sorted(set(field_types) - {"group", "computed"})


@st.composite
def field_definitions(draw, index, earlier, in_group=False):
    type_key = draw(st.sampled_from(SIMPLE_TYPES if in_group else list(field_types)))
    result = {"key": f"f{index}", "type": type_key, "label": f"項目{index}"}
    options = draw(options_for(type_key, earlier))
    if options or draw(st.booleans()):
        result["options"] = options
    has_value = type_key not in ("group", "computed", "notice")
    if has_value and draw(st.booleans()):
        result["required"] = True
    answered = [f["key"] for f in earlier if f["type"] not in ("group", "computed", "notice")]
    if answered:
        condition = st.one_of(
            st.builds(lambda k: {"field": k, "filled": True}, st.sampled_from(answered)),
            st.builds(
                lambda k, v: {"field": k, "equals": v},
                st.sampled_from(answered),
                st.booleans() | st.sampled_from(["yes", "a", "1"]) | st.integers(0, 3),
            ),
        )
        condition = condition | condition.map(lambda c: {"not": c})
        for rule in ("visible_if", "required_if"):
            if (rule == "visible_if" or has_value) and draw(st.booleans()):
                result[rule] = draw(condition)
    if type_key == "group":
        children: list[dict[str, Any]] = []
        for child_index in range(draw(st.integers(1, 3))):
            children.append(
                draw(field_definitions(f"{index}c{child_index}", children, in_group=True))
            )
        result["fields"] = children
    return result


@st.composite
def definitions(draw, max_fields=6):
    fields: list[dict[str, Any]] = []
    for index in range(draw(st.integers(1, max_fields))):
        fields.append(draw(field_definitions(index, fields)))
    return definition(*fields)


def answer_for(spec: FieldSpec) -> st.SearchStrategy[Any]:
    """An answer to one field: its example, the example spoiled a little, or anything."""
    if spec.type == "group":
        item = st.fixed_dictionaries({}, optional={c.key: answer_strategy(c) for c in spec.fields})
        return st.lists(item, max_size=3) | json_values
    return answer_strategy(spec)


def answer_strategy(spec: FieldSpec) -> st.SearchStrategy[Any]:
    example = field_types[spec.type].example(spec, CTX)
    options = [st.just(example), json_values]
    if isinstance(example, dict):
        options.append(
            st.builds(
                lambda key, value: {**example, key: value},
                st.sampled_from([*example, "unknown"]),
                json_values,
            )
        )
    return st.one_of(options)


def answers_for(spec: FormSpec, data: Any) -> dict[str, Any]:
    answers = {}
    for f in spec.fields:
        choice = data.draw(st.sampled_from(["example", "drawn", "missing"]), label=f.key)
        if choice == "missing":
            continue
        if choice == "example" and f.type != "group":
            answers[f.key] = field_types[f.type].example(f, CTX)
        else:
            answers[f.key] = data.draw(answer_for(f), label=f.key)
    if data.draw(st.booleans(), label="extra key"):
        answers[data.draw(st.text(max_size=8), label="extra")] = data.draw(json_values)
    return answers


def checked(data_definition: Any) -> FormSpec:
    try:
        return check_definition(data_definition)
    except InvalidDefinition as error:
        note(f"refused: {error}")
        assume(False)
        raise


def assert_well_formed(result: ValidationResult) -> None:
    for key, message in result.errors.items():
        assert isinstance(key, str)
        assert isinstance(message, str)
        assert JAPANESE.search(message), (key, message)


# --- The properties ------------------------------------------------------------------------------


@FAST
@given(definitions(), st.data())
def test_validation_never_raises_and_what_it_accepts_validates_again_unchanged(
    raw_definition, data
):
    spec = checked(raw_definition)
    answers = answers_for(spec, data)
    result = validate(spec, answers, today=TODAY)
    assert_well_formed(result)
    assert set(result.answers) <= {f.key for f in spec.fields}
    if result.ok:
        again = validate(spec, result.answers, today=TODAY)
        assert again.errors == {}
        assert again.answers == result.answers


@st.composite
def plain_definitions(draw):
    """Fields with the options they need and no rules: their examples must all be accepted."""
    fields = []
    for index in range(draw(st.integers(1, 8))):
        type_key = draw(st.sampled_from(SIMPLE_TYPES))
        result = {"key": f"f{index}", "type": type_key, "label": f"項目{index}"}
        if type_key in ("choice", "multichoice"):
            result["options"] = {"choices": draw(choices)}
        if type_key not in ("notice",) and draw(st.booleans()):
            result["required"] = True
        fields.append(result)
    return definition(*fields)


@FAST
@given(plain_definitions())
def test_a_form_filled_with_the_examples_is_valid_and_stable(raw_definition):
    spec = check_definition(raw_definition)
    answers = {f.key: field_types[f.type].example(f, CTX) for f in spec.fields}
    answers = {k: v for k, v in answers.items() if v is not None}
    result = validate(spec, answers, today=TODAY)
    assert result.ok, result.errors
    again = validate(spec, result.answers, today=TODAY)
    assert again.ok
    assert again.answers == result.answers


@FAST
@given(definitions(max_fields=4), st.data())
def test_validating_one_step_never_raises(raw_definition, data):
    spec = checked(raw_definition)
    result = validate(spec, answers_for(spec, data), today=TODAY, step="main")
    assert_well_formed(result)


# --- Definitions that are anything at all ------------------------------------------------------

FIELD_PROPERTIES = [
    "key",
    "type",
    "label",
    "help",
    "required",
    "required_if",
    "visible_if",
    "privacy",
    "options",
    "fields",
]
VOCABULARY = [
    *FIELD_PROPERTIES,
    *OPERATORS,
    "all",
    "any",
    "not",
    "field",
    "expression",
    "add",
    "count",
    "sum",
    "if",
    "then",
    "else",
    "choices",
    "value",
    "min",
    "max",
    "min_items",
    "max_items",
    "offset_days",
]

keys = st.sampled_from(VOCABULARY) | st.text(string.ascii_lowercase + "_", max_size=6)
any_json = st.recursive(
    json_scalars | st.sampled_from(list(field_types)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=25,
)


@st.composite
def field_shaped(draw):
    """A field whose parts are sometimes right and sometimes anything."""
    type_key = draw(st.sampled_from(list(field_types)) | any_json)
    value = {
        "key": draw(st.sampled_from(["a", "b", "c", "A", ""]) | any_json),
        "type": type_key,
        "label": "項目",
    }
    if isinstance(type_key, str) and type_key in field_types and draw(st.booleans()):
        schema = field_types[type_key].options_schema
        names = list(schema.get("properties", {})) or ["x"]
        value["options"] = draw(st.dictionaries(st.sampled_from(names), any_json, max_size=4))
    for name in draw(st.lists(st.sampled_from(FIELD_PROPERTIES), max_size=3)):
        value[name] = draw(any_json)
    return value


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_json)
def test_check_definition_on_anything_raises_only_invalid_definition(data):
    problems = []
    try:
        check_definition(data)
    except InvalidDefinition as error:
        problems = error.problems
        assert problems
    for problem in problems:
        assert JAPANESE.search(problem.message), problem


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(field_shaped(), min_size=1, max_size=4))
def test_check_definition_on_field_shaped_nonsense_raises_only_invalid_definition(fields):
    problems = []
    try:
        spec = check_definition(definition(*fields))
    except InvalidDefinition as error:
        problems = error.problems
    else:
        # Whatever was accepted can be used: its examples validate without raising.
        answers = {f.key: field_types[f.type].example(f, CTX) for f in spec.fields}
        assert_well_formed(validate(spec, answers, today=TODAY))
    for problem in problems:
        assert isinstance(problem.path, str)
        assert JAPANESE.search(problem.message), problem


@FAST
@given(definitions(max_fields=4))
def test_a_generated_definition_survives_yaml_and_json(raw_definition):
    import json

    from madoguchi.forms.schema import parse_definition_text

    spec = checked(raw_definition)
    parsed, data = parse_definition_text(json.dumps(raw_definition))
    assert parsed == spec
    assert data == json.loads(json.dumps(raw_definition))
