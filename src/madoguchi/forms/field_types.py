"""The field types of the form engine, each with server-side normalisation and a precise
Japanese error message. Registered in :data:`madoguchi.forms.base.field_types`.

What each type does to typed text follows the rules in :mod:`madoguchi.forms.japanese`
(names: :func:`clean_name`; 番地・建物名: :func:`clean_address_number`; every other text:
:func:`clean_text`). ``display`` never fails on a stored value, even a partial one (a
pre-filled address without 都道府県): missing parts are shown as empty.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, ClassVar

import jpholiday
import phonenumbers
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email

from madoguchi.core.text import hiragana_to_katakana
from madoguchi.forms.banks import bank_get, branch_get
from madoguchi.forms.base import (
    Area,
    Context,
    FieldError,
    FieldSpec,
    FieldType,
    register_field_type,
)
from madoguchi.forms.constants import MAX_TEXT_LENGTH, Privacy
from madoguchi.forms.japanese import (
    HYPHENS,
    ParseError,
    ascii_digits,
    clean_address_number,
    clean_name,
    clean_text,
    corporate_number_check_digit,
    katakana_reading,
    my_number_check_digit,
    parse_date,
    parse_number,
    parse_phone,
    parse_postal_code,
    wareki,
)
from madoguchi.forms.postal import PostalAddress, a_postal_code_in, lookup

PREFECTURES = [
    "北海道",
    "青森県",
    "岩手県",
    "宮城県",
    "秋田県",
    "山形県",
    "福島県",
    "茨城県",
    "栃木県",
    "群馬県",
    "埼玉県",
    "千葉県",
    "東京都",
    "神奈川県",
    "新潟県",
    "富山県",
    "石川県",
    "福井県",
    "山梨県",
    "長野県",
    "岐阜県",
    "静岡県",
    "愛知県",
    "三重県",
    "滋賀県",
    "京都府",
    "大阪府",
    "兵庫県",
    "奈良県",
    "和歌山県",
    "鳥取県",
    "島根県",
    "岡山県",
    "広島県",
    "山口県",
    "徳島県",
    "香川県",
    "愛媛県",
    "高知県",
    "福岡県",
    "佐賀県",
    "長崎県",
    "熊本県",
    "大分県",
    "宮崎県",
    "鹿児島県",
    "沖縄県",
]


def _str(raw: Any, what: str = "文字") -> str:
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise FieldError(f"{what}で入力してください。")
    if isinstance(raw, float) and not math.isfinite(raw):  # JSON Infinity, NaN, 1e400
        raise FieldError(f"{what}で入力してください（Infinity や NaN は使えません）。")
    return str(raw)


def _parse(func: Any, raw: str) -> Any:
    try:
        return func(raw)
    except ParseError as error:
        raise FieldError(str(error)) from None


def _length(text: str, spec: FieldSpec, default_max: int) -> str:
    maximum = int(spec.option("max_length", default_max))
    minimum = int(spec.option("min_length", 0))
    if len(text) > maximum:
        raise FieldError(f"{maximum}文字以内で入力してください（現在{len(text)}文字）。")
    if len(text) < minimum:
        raise FieldError(f"{minimum}文字以上で入力してください。")
    return text


_LENGTH_OPTIONS: dict[str, Any] = {
    "max_length": {"type": "integer", "minimum": 1, "maximum": MAX_TEXT_LENGTH},
    "min_length": {"type": "integer", "minimum": 0, "maximum": MAX_TEXT_LENGTH},
    "placeholder": {"type": "string", "maxLength": 200},
}


@register_field_type
class TextField(FieldType):
    key = "text"
    label = "文字（1行）"
    options_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {**_LENGTH_OPTIONS, "autocomplete": {"type": "string", "maxLength": 64}},
    }
    default_max = 200
    multiline = False

    def normalise(self, raw: Any, spec: FieldSpec, ctx: Context) -> Any:
        text = _parse(lambda r: clean_text(r, multiline=self.multiline), _str(raw))
        return _length(text, spec, self.default_max)

    def example(self, spec: FieldSpec, ctx: Context) -> Any:
        return "横浜市中区の窓口"[: int(spec.option("max_length", self.default_max))]


@register_field_type
class TextAreaField(TextField):
    key = "textarea"
    label = "文字（複数行）"
    default_max = 2000
    multiline = True

    def example(self, spec: FieldSpec, ctx: Context) -> Any:
        return "一行目\n二行目"


@register_field_type
class NumberField(FieldType):
    key = "number"
    label = "数値"
    options_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "min": {"type": "number"},
            "max": {"type": "number"},
            "decimals": {"type": "integer", "minimum": 0, "maximum": 6},
            "unit": {"type": "string", "maxLength": 16},
        },
    }

    def normalise(self, raw: Any, spec: FieldSpec, ctx: Context) -> Any:
        if isinstance(raw, bool):
            raise FieldError("数字で入力してください（例: 1234）。")
        if isinstance(raw, float) and not math.isfinite(raw):  # JSON Infinity, NaN, 1e400
            raise FieldError("数字で入力してください（Infinity や NaN は使えません）。")
        if isinstance(raw, int | float):
            text = repr(raw) if isinstance(raw, float) else str(raw)
        else:
            text = _parse(parse_number, _str(raw, "数字"))
        if len(text) > 30:
            raise FieldError("数値が大きすぎます。")
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise FieldError("数字で入力してください（例: 1234）。") from None
        if not value.is_finite():
            raise FieldError("数字で入力してください（例: 1234）。")
        decimals = int(spec.option("decimals", 0))
        if value.adjusted() >= 20:  # 1e300 is "finite" but cannot be quantised (28 digits)
            raise FieldError("数値が大きすぎます。")
        if value != value.quantize(Decimal(1).scaleb(-decimals)):
            raise FieldError(
                "整数で入力してください。"
                if decimals == 0
                else f"小数点以下{decimals}桁までで入力してください。"
            )
        unit = spec.option("unit", "")
        if spec.option("min") is not None and value < Decimal(str(spec.option("min"))):
            raise FieldError(f"{spec.option('min')}{unit}以上で入力してください。")
        if spec.option("max") is not None and value > Decimal(str(spec.option("max"))):
            raise FieldError(f"{spec.option('max')}{unit}以下で入力してください。")
        return int(value) if decimals == 0 else str(value.quantize(Decimal(1).scaleb(-decimals)))

    def display(self, value: Any, spec: FieldSpec, *, reveal: bool = False) -> str:
        if value is None or value == "":
            return ""
        text = f"{value:,}" if isinstance(value, int) else str(value)
        return f"{text}{spec.option('unit', '')}"

    def example(self, spec: FieldSpec, ctx: Context) -> Any:
        low = spec.option("min")
        return int(low) if low is not None else 1


# --- Dates -----------------------------------------------------------------------------------

_RELATIVE = re.compile(r"^today(?:(?P<sign>[+-])(?P<n>\d{1,4})(?P<unit>[dmy]))?$")


def resolve_date_bound(
    bound: Any, ctx: Context, answers: Mapping[str, Any] | None = None
) -> date | None:
    """'today', 'today-18y', '2025-04-01', or {"field": key, "offset_days": n}."""
    if bound is None:
        return None
    if isinstance(bound, dict):
        other = (answers or {}).get(bound["field"])
        if not isinstance(other, str):
            return None
        return _shift_days(date.fromisoformat(other), int(bound.get("offset_days", 0)))
    return _text_bound(str(bound), ctx.today)


def _shift_days(day: date, days: int) -> date:
    try:
        return day + timedelta(days=days)
    except OverflowError:  # beyond 9999-12-31: as good as no bound
        return date.max if days > 0 else date.min


@lru_cache(maxsize=1024)
def _text_bound(text: str, today: date) -> date:
    """A bound written in the definition, on ``today``: the same few pairs recur all day."""
    match = _RELATIVE.match(text)
    if match:
        if not match["sign"]:
            return today
        n = int(match["n"]) * (1 if match["sign"] == "+" else -1)
        if match["unit"] == "d":
            return _shift_days(today, n)
        months = n * (12 if match["unit"] == "y" else 1)
        year, month = divmod(today.month - 1 + months, 12)
        year += today.year
        if not date.min.year <= year <= date.max.year:  # "today+9999y": as good as no bound
            return date.max if n > 0 else date.min
        day = today.day
        while True:
            try:
                return date(year, month + 1, day)
            except ValueError:
                day -= 1  # 29 Feb → 28 Feb in a common year
    return date.fromisoformat(text)


_DATE_BOUND = {
    "oneOf": [
        {"type": "string", "pattern": r"^(today([+-]\d{1,4}[dmy])?|\d{4}-\d{2}-\d{2})$"},
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["field"],
            "properties": {"field": {"type": "string"}, "offset_days": {"type": "integer"}},
        },
    ]
}


@register_field_type
class DateField(FieldType):
    key = "date"
    label = "日付（西暦・和暦）"
    options_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "min": _DATE_BOUND,
            "max": _DATE_BOUND,
            "weekdays_only": {"type": "boolean"},
        },
    }
    default_min: ClassVar[str | None] = None
    default_max: ClassVar[str | None] = None

    def normalise(self, raw: Any, spec: FieldSpec, ctx: Context) -> Any:
        value = _parse(parse_date, _str(raw, "日付"))
        if value.year < 1868:
            raise FieldError("明治以降の日付を入力してください。")
        # Bounds on other fields are checked by the engine once all answers are normalised.
        low = spec.option("min", self.default_min)
        high = spec.option("max", self.default_max)
        if not isinstance(low, dict):
            minimum = resolve_date_bound(low, ctx)
            if minimum is not None and value < minimum:
                raise FieldError(
                    f"{wareki(minimum)}（{minimum.isoformat()}）以降の日付を入力してください。"
                )
        if not isinstance(high, dict):
            maximum = resolve_date_bound(high, ctx)
            if maximum is not None and value > maximum:
                raise FieldError(
                    f"{wareki(maximum)}（{maximum.isoformat()}）以前の日付を入力してください。"
                )
        if spec.option("weekdays_only"):
            if value.weekday() >= 5 or jpholiday.is_holiday(value):
                raise FieldError("土曜・日曜・祝日は選べません。平日の日付を入力してください。")
        return value.isoformat()

    def check_definition(self, spec: FieldSpec) -> list[str]:
        problems = []
        for bound in ("min", "max"):
            value = spec.option(bound)
            if isinstance(value, str):
                try:
                    resolve_date_bound(value, Context(today=date(2000, 1, 1)))
                except ValueError:
                    problems.append(
                        f"{bound} の「{value}」は日付として読めません（例: 2025-04-01）。"
                    )
        return problems

    def display(self, value: Any, spec: FieldSpec, *, reveal: bool = False) -> str:
        if not value:
            return ""
        day = date.fromisoformat(value)
        return f"{wareki(day)}（{day.year}年）"

    def example(self, spec: FieldSpec, ctx: Context) -> Any:
        low = spec.option("min", self.default_min)
        high = spec.option("max", self.default_max)
        if isinstance(low, str):
            candidate = resolve_date_bound(low, ctx) or ctx.today
        elif isinstance(high, str):
            candidate = resolve_date_bound(high, ctx) or ctx.today
        else:
            candidate = ctx.today
        candidate = max(candidate, date(1868, 1, 1))  # normalise refuses dates before 明治
        while spec.option("weekdays_only") and (
            candidate.weekday() >= 5 or jpholiday.is_holiday(candidate)
        ):
            candidate += timedelta(days=1)
        return candidate.isoformat()


@register_field_type
class BirthDateField(DateField):
    key = "birth_date"
    label = "生年月日"
    default_privacy = Privacy.PERSONAL
    default_min = "today-130y"
    default_max = "today"

    def example(self, spec: FieldSpec, ctx: Context) -> Any:
        try:
            self.normalise("昭和60年4月1日", spec, ctx)
        except FieldError:  # outside the bounds of this field: a day within them
            return super().example(spec, ctx)
        return "昭和60年4月1日"


# --- Choices ---------------------------------------------------------------------------------

_CHOICES_OPTIONS: dict[str, Any] = {
    "type": "array",
    "minItems": 1,
    "maxItems": 500,
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["value", "label"],
        "properties": {
            "value": {"type": "string", "pattern": r"^[A-Za-z0-9_\-]{1,64}$"},
            "label": {"type": "string", "minLength": 1, "maxLength": 200},
        },
    },
}


def _choice_values(spec: FieldSpec) -> dict[str, str]:
    return {c["value"]: c["label"] for c in spec.option("choices", [])}


@register_field_type
class ChoiceField(FieldType):
    key = "choice"
    label = "選択（1つ）"
    options_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["choices"],
        "properties": {"choices": _CHOICES_OPTIONS, "widget": {"enum": ["radio", "select"]}},
    }

    def normalise(self, raw: Any, spec: FieldSpec, ctx: Context) -> Any:
        value = _str(raw, "選択肢").strip()
        if value not in _choice_values(spec):
            raise FieldError("選択肢の中から選んでください。")
        return value

    def display(self, value: Any, spec: FieldSpec, *, reveal: bool = False) -> str:
        return _choice_values(spec).get(value, "") if value else ""

    def check_definition(self, spec: FieldSpec) -> list[str]:
        values = [c["value"] for c in spec.option("choices", [])]
        return ["選択肢の value が重複しています。"] if len(values) != len(set(values)) else []

    def example(self, spec: FieldSpec, ctx: Context) -> Any:
        return spec.option("choices")[0]["value"]


@register_field_type
class MultiChoiceField(ChoiceField):
    key = "multichoice"
    label = "選択（複数）"
    options_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["choices"],
        "properties": {
            "choices": _CHOICES_OPTIONS,
            "min_selected": {"type": "integer", "minimum": 0},
            "max_selected": {"type": "integer", "minimum": 1},
        },
    }

    def normalise(self, raw: Any, spec: FieldSpec, ctx: Context) -> Any:
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, list) or len(items) > 500:
            raise FieldError("選択肢の中から選んでください。")
        allowed = _choice_values(spec)
        chosen: list[str] = []
        for item in items:
            if not isinstance(item, str) or item not in allowed:
                raise FieldError("選択肢の中から選んでください。")
            if item not in chosen:
                chosen.append(item)
        low, high = spec.option("min_selected"), spec.option("max_selected")
        if low is not None and len(chosen) < low:
            raise FieldError(f"{low}つ以上選んでください。")
        if high is not None and len(chosen) > high:
            raise FieldError(f"{high}つまで選べます。")
        order = list(allowed)
        return sorted(chosen, key=order.index)

    def display(self, value: Any, spec: FieldSpec, *, reveal: bool = False) -> str:
        labels = _choice_values(spec)
        return "、".join(labels.get(v, "") for v in value or [])

    def example(self, spec: FieldSpec, ctx: Context) -> Any:
        return [spec.option("choices")[0]["value"]]


@register_field_type
class YesNoField(FieldType):
    key = "yesno"
    label = "はい・いいえ"
    _YES = frozenset({"yes", "true", "1", "はい", "on"})
    _NO = frozenset({"no", "false", "0", "いいえ", "off"})

    def normalise(self, raw: Any, spec: FieldSpec, ctx: Context) -> Any:
        if isinstance(raw, bool):
            return raw
        text = _str(raw, "「はい」か「いいえ」").strip().lower()
        if text in self._YES:
            return True
        if text in self._NO:
            return False
        raise FieldError("「はい」か「いいえ」を選んでください。")

    def is_empty(self, raw: Any) -> bool:
        return raw is None or (isinstance(raw, str) and raw.strip() == "")

    def display(self, value: Any, spec: FieldSpec, *, reveal: bool = False) -> str:
        return "" if value is None else ("はい" if value else "いいえ")

    def example(self, spec: FieldSpec, ctx: Context) -> Any:
        return "yes"


@register_field_type
class ConsentField(FieldType):
    key = "consent"
    label = "同意"
    options_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"statement": {"type": "string", "maxLength": 4000}},
    }

    def normalise(self, raw: Any, spec: FieldSpec, ctx: Context) -> Any:
        if raw is True or (
            isinstance(raw, str) and raw.strip().lower() in {"yes", "true", "on", "1"}
        ):
            return True
        raise FieldError("内容を確認のうえ、同意する場合はチェックを入れてください。")

    def is_empty(self, raw: Any) -> bool:
        return raw in (None, "", False) or (
            isinstance(raw, str) and raw.strip().lower() in {"", "false", "no", "off", "0"}
        )

    def display(self, value: Any, spec: FieldSpec, *, reveal: bool = False) -> str:
        return "同意する" if value else ""

    def example(self, spec: FieldSpec, ctx: Context) -> Any:
        return True


@register_field_type
class NoticeField(FieldType):
    """Read-only text for the applicant (注意事項); holds no value."""

    key = "notice"
    label = "お知らせ（入力なし）"
    has_value = False
    options_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"text": {"type": "string", "maxLength": 8000}},
    }

    def normalise(self, raw: Any, spec: FieldSpec, ctx: Context) -> Any:
        return None

    def example(self, spec: FieldSpec, ctx: Context) -> Any:
        return None


# --- Contact ---------------------------------------------------------------------------------


@register_field_type
class EmailField(FieldType):
    key = "email"
    label = "メールアドレス"
    default_privacy = Privacy.PERSONAL

    def normalise(self, raw: Any, spec: FieldSpec, ctx: Context) -> Any:
        text = unicodedata.normalize("NFKC", _parse(clean_text, _str(raw))).replace(" ", "")
        if len(text) > 254:
            raise FieldError("メールアドレスが長すぎます。")
        try:
            validate_email(text)
        except DjangoValidationError:
            raise FieldError(
                "メールアドレスの形が正しくありません（例: taro@example.jp）。"
            ) from None
        local, _, domain = text.rpartition("@")
        return f"{local}@{domain.lower()}"

    def example(self, spec: FieldSpec, ctx: Context) -> Any:
        return "taro@example.jp"


@register_field_type
class PhoneField(FieldType):
    key = "phone"
    label = "電話番号"
    default_privacy = Privacy.PERSONAL

    def normalise(self, raw: Any, spec: FieldSpec, ctx: Context) -> Any:
        text = _str(raw, "数字")
        if len(text) > 40:
            raise FieldError("電話番号が長すぎます。")
        return _parse(parse_phone, text)

    def display(self, value: Any, spec: FieldSpec, *, reveal: bool = False) -> str:
        return format_phone(str(value or ""))

    def example(self, spec: FieldSpec, ctx: Context) -> Any:
        return "045-671-2121"


@lru_cache(maxsize=4096)
def format_phone(digits: str) -> str:
    """Stored digits as people write them, hyphenated by area code (市外局番) from the
    numbering plan in ``phonenumbers``: 0467231111 → 0467-23-1111, 0312345678 → 03-1234-5678.

    What is stored stays the digits; a number the plan does not know is shown as stored.
    """
    if not digits:
        return ""
    try:
        number = phonenumbers.parse(digits, "JP")
    except phonenumbers.NumberParseException:
        return digits
    if not phonenumbers.is_valid_number(number):
        return digits
    text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return text if text.replace("-", "") == digits else digits


_WITHIN_OPTION: dict[str, Any] = {"within_organisation": {"type": "boolean"}}


def _example_postal_code(spec: FieldSpec, ctx: Context) -> str:
    """231-0023 (横浜市中区), or a code of the organisation's area where the field asks for it."""
    if spec.option("within_organisation") and ctx.area is not None:
        code = a_postal_code_in(ctx.area.prefecture, ctx.area.municipality)
        if code:
            return f"{code[:3]}-{code[3:]}"
    return "231-0023"


def _outside_message(area: Area, found: str) -> str:
    return (
        f"{area.name}内の住所を入力してください。この手続は{area.name}内の住所に限ります"
        f"（入力された住所: {found}）。"
    )


@register_field_type
class PostalCodeField(FieldType):
    """郵便番号. With ``within_organisation``, only codes of the receiving organisation's area."""

    key = "postal_code"
    label = "郵便番号"
    default_privacy = Privacy.PERSONAL
    options_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "properties": _WITHIN_OPTION,
    }

    def normalise(self, raw: Any, spec: FieldSpec, ctx: Context) -> Any:
        text = _str(raw, "数字")
        if len(text) > 20:
            raise FieldError("郵便番号は7桁の数字で入力してください（例: 231-0023）。")
        code = _parse(parse_postal_code, text)
        found = lookup(code)
        if not found:
            raise FieldError(
                f"郵便番号 {code[:3]}-{code[3:]} に当たる住所が見つかりません。番号を確かめてください。"
            )
        area = ctx.area
        if spec.option("within_organisation") and area is not None:
            if not any(area.contains(prefecture=a.prefecture, city=a.city) for a in found):
                raise FieldError(_outside_message(area, found[0].prefecture + found[0].city))
        return code

    def display(self, value: Any, spec: FieldSpec, *, reveal: bool = False) -> str:
        return f"〒{value[:3]}-{value[3:]}" if value else ""

    def example(self, spec: FieldSpec, ctx: Context) -> Any:
        return _example_postal_code(spec, ctx)


_ADDRESS_PARTS = ("postal_code", "prefecture", "city", "town", "block", "building")


def address_fill(parts: Mapping[str, Any], found: tuple[PostalAddress, ...]) -> dict[str, str]:
    """The parts of an address that its postal code fills: only those left empty (what the
    resident typed is kept), and only what the code says for certain (one code may cover
    several cities or towns). The one rule for the form and for the live form's fill."""
    if not found:
        return {}
    first = found[0]
    filled: dict[str, str] = {}
    if not parts.get("prefecture"):
        filled["prefecture"] = first.prefecture
    if not parts.get("city") and len({a.city for a in found}) == 1:
        filled["city"] = first.city
    if not parts.get("town") and len(found) == 1 and first.town:
        filled["town"] = first.town
    return filled


def address_fill_for(parts: Any) -> dict[str, str]:
    """:func:`address_fill` for address parts as typed (the postal code not yet checked);
    empty when the postal code is not a known one."""
    if not isinstance(parts, Mapping) or not isinstance(parts.get("postal_code"), str):
        return {}
    try:
        code = parse_postal_code(clean_name(parts["postal_code"]))
    except ParseError:
        return {}
    return address_fill(parts, lookup(code))


#: The parts where numbers are written: NFKC-folded (rule 3 of :mod:`madoguchi.forms.japanese`).
_ADDRESS_NUMBER_PARTS = ("block", "building")


@register_field_type
class AddressField(FieldType):
    """住所: 郵便番号, 都道府県, 市区町村, 町域, 番地, 建物. The postal code fills the rest."""

    key = "address"
    label = "住所"
    default_privacy = Privacy.PERSONAL
    options_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"japan_only": {"type": "boolean"}, **_WITHIN_OPTION},
    }

    def normalise(self, raw: Any, spec: FieldSpec, ctx: Context) -> Any:
        value = self._normalise(raw)
        area = ctx.area
        if spec.option("within_organisation") and area is not None:
            self._check_within(value, area)
        return value

    @staticmethod
    def _check_within(value: Mapping[str, str], area: Area) -> None:
        """The typed 都道府県・市区町村, and the postal code's city when one is given, must lie
        in ``area`` (a code shared by two cities passes when one of them does)."""
        if value["postal_code"]:
            found = lookup(value["postal_code"])
            if found and not any(
                area.contains(prefecture=a.prefecture, city=a.city) for a in found
            ):
                raise FieldError(
                    errors={
                        "postal_code": _outside_message(area, found[0].prefecture + found[0].city)
                    }
                )
        if not area.contains(prefecture=value["prefecture"], city=value["city"]):
            raise FieldError(
                errors={"city": _outside_message(area, value["prefecture"] + value["city"])}
            )

    def _normalise(self, raw: Any) -> dict[str, str]:
        if not isinstance(raw, dict):
            raise FieldError(
                "住所は郵便番号・都道府県・市区町村・町域・番地・建物名に分けて入力してください。"
            )
        unknown = set(raw) - set(_ADDRESS_PARTS)
        if unknown:
            raise FieldError("住所に不明な項目が含まれています。")
        errors: dict[str, str] = {}
        value: dict[str, str] = {}
        for part in _ADDRESS_PARTS:
            item = raw.get(part, "")
            if item is None:
                item = ""
            if not isinstance(item, str):
                errors[part] = "文字で入力してください。"
                continue
            try:
                text = (
                    clean_address_number(item)
                    if part in _ADDRESS_NUMBER_PARTS
                    else clean_name(item)
                )
            except ParseError as error:
                errors[part] = str(error)
                continue
            if len(text) > 100:
                errors[part] = "100文字以内で入力してください。"
                continue
            value[part] = text
        if errors:
            raise FieldError(errors=errors)
        if value.get("postal_code"):
            try:
                code = parse_postal_code(value["postal_code"])
            except ParseError as error:
                raise FieldError(errors={"postal_code": str(error)}) from None
            found = lookup(code)
            if not found:
                raise FieldError(
                    errors={"postal_code": "この郵便番号に当たる住所が見つかりません。"}
                )
            value["postal_code"] = code
            value.update(address_fill(value, found))
        missing = {}
        for part, message in (
            ("prefecture", "都道府県を入力してください。"),
            ("city", "市区町村を入力してください。"),
            ("block", "番地を入力してください。"),
        ):
            if not value.get(part):
                missing[part] = message
        if missing:
            raise FieldError(errors=missing)
        if value["prefecture"] not in PREFECTURES:
            raise FieldError(
                errors={"prefecture": "都道府県名を正しく入力してください（例: 神奈川県）。"}
            )
        return {part: value.get(part, "") for part in _ADDRESS_PARTS}

    def display(self, value: Any, spec: FieldSpec, *, reveal: bool = False) -> str:
        if not isinstance(value, Mapping) or not value:
            return ""
        part = {name: str(value.get(name) or "") for name in _ADDRESS_PARTS}
        code = part["postal_code"]
        postal = f"〒{code[:3]}-{code[3:]} " if code else ""
        building = f" {part['building']}" if part["building"] else ""
        place = "".join(part[name] for name in ("prefecture", "city", "town", "block"))
        return f"{postal}{place}{building}".strip()

    def example(self, spec: FieldSpec, ctx: Context) -> Any:
        return {"postal_code": _example_postal_code(spec, ctx), "block": "1-1", "building": ""}


@register_field_type
class PersonNameField(FieldType):
    """氏名 in kanji (kept exactly as typed, 𠮷 and 髙 included) with フリガナ in katakana."""

    key = "person_name"
    label = "氏名（フリガナ付き）"
    default_privacy = Privacy.PERSONAL
    options_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"kana_required": {"type": "boolean"}},
    }
    _PARTS = ("family", "given", "family_kana", "given_kana")

    def normalise(self, raw: Any, spec: FieldSpec, ctx: Context) -> Any:
        if not isinstance(raw, dict):
            raise FieldError("氏名は姓・名・フリガナに分けて入力してください。")
        if set(raw) - set(self._PARTS):
            raise FieldError("氏名に不明な項目が含まれています。")
        errors: dict[str, str] = {}
        value: dict[str, str] = {}
        for part in self._PARTS:
            item = raw.get(part) or ""
            if not isinstance(item, str):
                errors[part] = "文字で入力してください。"
                continue
            try:
                text = katakana_reading(item) if part.endswith("_kana") else clean_name(item)
            except ParseError as error:
                errors[part] = str(error)
                continue
            if len(text) > 50:
                errors[part] = "50文字以内で入力してください。"
                continue
            value[part] = text
        if not errors:
            if not value.get("family"):
                errors["family"] = "姓を入力してください。"
            if spec.option("kana_required", True) and not value.get("family_kana"):
                errors["family_kana"] = "姓のフリガナを入力してください。"
            if (
                value.get("given")
                and spec.option("kana_required", True)
                and not value.get("given_kana")
            ):
                errors["given_kana"] = "名のフリガナを入力してください。"
        if errors:
            raise FieldError(errors=errors)
        return value

    def display(self, value: Any, spec: FieldSpec, *, reveal: bool = False) -> str:
        if not isinstance(value, Mapping) or not value:
            return ""
        name = f"{value.get('family', '')} {value.get('given', '')}".strip()
        kana = f"{value.get('family_kana', '')} {value.get('given_kana', '')}".strip()
        return f"{name}（{kana}）" if kana else name

    def example(self, spec: FieldSpec, ctx: Context) -> Any:
        return {"family": "髙橋", "given": "𠮷子", "family_kana": "たかはし", "given_kana": "ﾖｼｺ"}


# --- Identifiers -----------------------------------------------------------------------------


def _digits(raw: Any, what: str, length: int) -> str:
    text = HYPHENS.sub("", ascii_digits(_str(raw, "数字")))
    if len(text) > 40 or not (text.isascii() and text.isdigit()):
        raise FieldError(f"{what}は{length}桁の数字で入力してください。")
    if len(text) != length:
        raise FieldError(
            f"{what}は{length}桁の数字で入力してください（{len(text)}桁が入力されました）。"
        )
    return text


def mask_my_number(value: str) -> str:
    """My Number is shown as ●●●●●●●●1234 unless a recorded reveal is under way."""
    return "●" * 8 + value[-4:] if value else ""


@register_field_type
class MyNumberField(FieldType):
    """個人番号: 12 digits with a check digit. Always 特定個人情報; masked when shown."""

    key = "my_number"
    label = "個人番号（マイナンバー）"
    default_privacy = Privacy.SPECIFIC
    forced_privacy = Privacy.SPECIFIC

    def normalise(self, raw: Any, spec: FieldSpec, ctx: Context) -> Any:
        text = _digits(raw, "個人番号", 12)
        if my_number_check_digit(text[:11]) != int(text[11]):
            raise FieldError(
                "個人番号が正しくありません。番号を確かめてください（最後の1桁は検査用の数字です）。"
            )
        return text

    def display(self, value: Any, spec: FieldSpec, *, reveal: bool = False) -> str:
        return str(value) if reveal else mask_my_number(str(value or ""))

    def example(self, spec: FieldSpec, ctx: Context) -> Any:
        base = "12345678901"
        return base + str(my_number_check_digit(base))


@register_field_type
class CorporateNumberField(FieldType):
    key = "corporate_number"
    label = "法人番号"

    def normalise(self, raw: Any, spec: FieldSpec, ctx: Context) -> Any:
        text = _digits(raw, "法人番号", 13)
        if corporate_number_check_digit(text[1:]) != int(text[0]):
            raise FieldError(
                "法人番号が正しくありません。番号を確かめてください（最初の1桁は検査用の数字です）。"
            )
        return text

    def example(self, spec: FieldSpec, ctx: Context) -> Any:
        base = "000012050002"
        return str(corporate_number_check_digit(base)) + base


ACCOUNT_TYPES = {"ordinary": "普通", "current": "当座", "savings": "貯蓄"}


def bank_label(code: str) -> str:
    """「みずほ（0001）」: the name from the bank master beside the code; the code alone (as
    「金融機関 0001」) when the master no longer knows it (a merged bank in an old answer)."""
    bank = bank_get(code)
    return f"{bank.name}（{code}）" if bank else f"金融機関 {code}"


def branch_label(bank_code: str, code: str) -> str:
    """「東京営業部支店（001）」, or 「支店 001」 when the master does not know it."""
    branch = branch_get(bank_code, code)
    if branch is None:
        return f"支店 {code}"
    if branch.name.endswith(("支店", "出張所", "営業部", "本店", "支所", "店")):
        suffix = ""
    else:
        suffix = "店" if bank_code == "9900" else "支店"  # ゆうちょ銀行は「〇一八店」
    return f"{branch.name}{suffix}（{code}）"


# 口座名義で使える文字: 全角カナ、英大文字、数字、スペース、（）．ー／－ and 「・」.
_HOLDER = re.compile(r"^[\u30a1-\u30f6\u30fcA-Z0-9 ()./\-・,]+$")


@register_field_type
class BankAccountField(FieldType):
    key = "bank_account"
    label = "振込先口座"
    default_privacy = Privacy.PERSONAL
    _PARTS = ("bank_code", "branch_code", "account_type", "account_number", "holder")

    def normalise(self, raw: Any, spec: FieldSpec, ctx: Context) -> Any:
        if not isinstance(raw, dict):
            raise FieldError(
                "口座は金融機関コード・支店コード・種別・口座番号・名義に分けて入力してください。"
            )
        if set(raw) - set(self._PARTS):
            raise FieldError("口座に不明な項目が含まれています。")
        errors: dict[str, str] = {}
        value: dict[str, str] = {}

        def digits(part: str, label: str, length: int, *, pad: bool = False) -> None:
            item = raw.get(part) or ""
            if not isinstance(item, str | int) or isinstance(item, bool):
                errors[part] = f"{label}は数字で入力してください。"
                return
            text = ascii_digits(str(item))
            if (
                not (text.isascii() and text.isdigit())
                or len(text) > length
                or (not pad and len(text) != length)
            ):
                errors[part] = (
                    f"{label}は{length}桁{'以内' if pad else ''}の数字で入力してください。"
                )
                return
            value[part] = text.zfill(length)

        digits("bank_code", "金融機関コード", 4)
        digits("branch_code", "支店コード", 3)
        digits("account_number", "口座番号", 7, pad=True)
        account_type = raw.get("account_type")
        if not isinstance(account_type, str) or account_type not in ACCOUNT_TYPES:
            errors["account_type"] = "預金の種別を選んでください。"
        else:
            value["account_type"] = account_type
        holder = raw.get("holder") or ""
        if not isinstance(holder, str):
            errors["holder"] = "口座名義はカタカナで入力してください。"
        else:
            try:
                text = unicodedata.normalize("NFKC", clean_text(holder)).upper()
                text = re.sub(r"\s+", " ", hiragana_to_katakana(text))
            except ParseError as error:
                errors["holder"] = str(error)
            else:
                if not text:
                    errors["holder"] = "口座名義を入力してください。"
                elif len(text) > 48 or not _HOLDER.match(text):
                    errors["holder"] = "口座名義はカタカナ（通帳の表記どおり）で入力してください。"
                else:
                    value["holder"] = text
        if "bank_code" in value:
            bank = bank_get(value["bank_code"])
            if bank is None:
                errors["bank_code"] = (
                    f"金融機関コード {value['bank_code']} の金融機関は見つかりません。"
                    "コードを確かめるか、金融機関名で探してください。"
                )
            elif "branch_code" in value and branch_get(bank.code, value["branch_code"]) is None:
                errors["branch_code"] = (
                    f"{bank.name}（{bank.code}）に支店コード {value['branch_code']} の支店は"
                    "見つかりません。コードを確かめるか、支店名で探してください。"
                )
        if errors:
            raise FieldError(errors=errors)
        return value

    def display(self, value: Any, spec: FieldSpec, *, reveal: bool = False) -> str:
        if not value:
            return ""
        number = value["account_number"] if reveal else "●" * 4 + value["account_number"][-3:]
        return (
            f"{bank_label(value.get('bank_code', ''))} {branch_label(value.get('bank_code', ''), value.get('branch_code', ''))} "
            f"{ACCOUNT_TYPES[value['account_type']]} {number} {value['holder']}"
        )

    def example(self, spec: FieldSpec, ctx: Context) -> Any:
        return {
            "bank_code": "0001",
            "branch_code": "001",
            "account_type": "ordinary",
            "account_number": "1234567",
            "holder": "ﾖｺﾊﾏ ﾀﾛｳ",
        }


# --- Attachments -----------------------------------------------------------------------------

ATTACHMENT_KINDS = {
    "pdf": "PDF",
    "jpeg": "JPEG画像",
    "png": "PNG画像",
    "heic": "HEIC画像",
}


@register_field_type
class AttachmentField(FieldType):
    """添付書類の枠. The value references files stored by the upload step (issue: applications)."""

    key = "attachment"
    label = "添付ファイル"
    default_privacy = Privacy.PERSONAL
    options_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "accept": {
                "type": "array",
                "items": {"enum": list(ATTACHMENT_KINDS)},
                "minItems": 1,
                "uniqueItems": True,
            },
            "max_bytes": {"type": "integer", "minimum": 1, "maximum": 50 * 1024 * 1024},
            "max_files": {"type": "integer", "minimum": 1, "maximum": 20},
            "document": {"type": "string", "maxLength": 200},
        },
    }

    def normalise(self, raw: Any, spec: FieldSpec, ctx: Context) -> Any:
        items = raw if isinstance(raw, list) else [raw]
        max_files = int(spec.option("max_files", 5))
        if len(items) > max_files:
            raise FieldError(f"ファイルは{max_files}個までです。")
        accept = spec.option("accept", ["pdf", "jpeg", "png"])
        max_bytes = int(spec.option("max_bytes", 10 * 1024 * 1024))
        result = []
        for item in items:
            if (
                not isinstance(item, dict)
                or not isinstance(item.get("id"), str)
                or not re.match(r"^[A-Za-z0-9_-]{8,64}$", item["id"])
            ):
                raise FieldError("ファイルをアップロードしてから選んでください。")
            kind = item.get("kind")
            size = item.get("size")
            if kind not in accept:
                names = "、".join(ATTACHMENT_KINDS[k] for k in accept)
                raise FieldError(f"この書類は {names} で提出してください。")
            if not isinstance(size, int) or isinstance(size, bool) or size <= 0 or size > max_bytes:
                raise FieldError(f"ファイルの大きさは{max_bytes // (1024 * 1024)}MBまでです。")
            name = item.get("name", "")
            if not isinstance(name, str):
                raise FieldError("ファイル名が正しくありません。")
            try:
                name = clean_text(name)[:200]
            except ParseError:
                raise FieldError("ファイル名に使用できない文字が含まれています。") from None
            result.append({"id": item["id"], "name": name, "kind": kind, "size": size})
        return result

    def display(self, value: Any, spec: FieldSpec, *, reveal: bool = False) -> str:
        return "、".join(
            f"{item['name']}（{ATTACHMENT_KINDS[item['kind']]}）" for item in value or []
        )

    def example(self, spec: FieldSpec, ctx: Context) -> Any:
        kind = spec.option("accept", ["pdf"])[0]
        return [{"id": "example-file-0001", "name": "書類.pdf", "kind": kind, "size": 1024}]


@register_field_type
class ComputedField(FieldType):
    """A number the server computes from other answers (e.g. 手数料 = 通数 × 300円)."""

    key = "computed"
    label = "計算値"
    options_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["expression"],
        "properties": {
            "expression": {"$ref": "#/$defs/expression"},
            "unit": {"type": "string", "maxLength": 16},
            "fee": {"type": "boolean"},
        },
    }

    def normalise(self, raw: Any, spec: FieldSpec, ctx: Context) -> Any:
        return None  # never taken from the client; the engine computes it

    def display(self, value: Any, spec: FieldSpec, *, reveal: bool = False) -> str:
        if value is None:
            return ""
        return f"{value:,}{spec.option('unit', '')}"

    def example(self, spec: FieldSpec, ctx: Context) -> Any:
        return None


@register_field_type
class GroupField(FieldType):
    """A repeatable group of fields (e.g. 児童 1–10). Its value is a list of answer objects."""

    key = "group"
    label = "繰り返しグループ"
    options_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "min_items": {"type": "integer", "minimum": 0, "maximum": 50},
            "max_items": {"type": "integer", "minimum": 1, "maximum": 50},
            "item_label": {"type": "string", "maxLength": 40},
        },
    }

    def normalise(self, raw: Any, spec: FieldSpec, ctx: Context) -> Any:
        raise AssertionError("groups are normalised by the engine")

    def display(self, value: Any, spec: FieldSpec, *, reveal: bool = False) -> str:
        return f"{len(value or [])}件"

    def check_definition(self, spec: FieldSpec) -> list[str]:
        low, high = spec.option("min_items", 0), spec.option("max_items", 10)
        problems = []
        if low > high:
            problems.append("min_items が max_items より大きくなっています。")
        if not spec.fields:
            problems.append("グループに項目がありません。")
        return problems

    def example(self, spec: FieldSpec, ctx: Context) -> Any:
        return []
