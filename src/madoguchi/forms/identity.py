"""The applicant's own fields in a form, and what verified attributes say about them.

The applicant's name, date of birth and address are the *first* fields of the form itself
(not inside a repeated group) of type ``person_name``, ``birth_date`` and ``address``, in the
form's order. Every national template is written that way (請求者・受給者・申込者 come first);
an organisation's own form follows the same rule.

- :func:`verified_prefill` turns verified attributes (the card's 基本4情報, the national
  login's userinfo) into answers for those fields — the 券面事項入力補助 idea: typed once, by
  the source that knows.
- :func:`attribute_mismatches` compares answers with verified attributes, folding only what
  does not change the meaning (full/half width, spaces, 丁目・番・号 and dashes, kanji
  numerals before them). 髙 and 高 stay different.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from madoguchi.core.text import address_key, name_key
from madoguchi.forms.base import FormSpec
from madoguchi.forms.field_types import PREFECTURES
from madoguchi.identity.assurance import VerifiedAttributes

_NAME_SPLIT = re.compile(r"[\s\u3000]+")
_FIRST_DIGIT = re.compile(r"[0-9０-９〇一二三四五六七八九十]")


@dataclass(frozen=True)
class ApplicantFields:
    """Keys of the applicant's own fields; empty where the form has none."""

    name: str = ""
    birth_date: str = ""
    address: str = ""


def applicant_fields(spec: FormSpec) -> ApplicantFields:
    found: dict[str, str] = {}
    wanted = {"person_name": "name", "birth_date": "birth_date", "address": "address"}
    for step in spec.steps:
        for field in step.fields:
            slot = wanted.get(field.type)
            if slot and slot not in found:
                found[slot] = field.key
    return ApplicantFields(**found)


def split_address(text: str) -> dict[str, str]:
    """A one-line address as the card writes it, in the form's parts: 都道府県 by its name,
    the rest up to the first number as 市区町村・町域, the rest as 番地 (the resident can
    correct it; comparison is on the whole line)."""
    text = text.strip()
    prefecture = next((p for p in PREFECTURES if text.startswith(p)), "")
    rest = text[len(prefecture) :]
    city_end = max(rest.find("市") + 1, 0)
    for mark in ("区", "町", "村"):
        position = rest.find(mark)
        if city_end == 0 and position > 0:
            city_end = position + 1
    if "郡" in rest[:city_end] or city_end == 0:
        city_end = next((i + 1 for i, c in enumerate(rest) if c in "町村"), 0)
    # 横浜市中区: a designated city's ward belongs to 市区町村.
    if city_end and rest[city_end : city_end + 4].find("区") > 0:
        city_end += rest[city_end:].find("区") + 1
    city, remainder = rest[:city_end], rest[city_end:]
    number = _FIRST_DIGIT.search(remainder)
    town, block = (
        (remainder[: number.start()], remainder[number.start() :]) if number else (remainder, "")
    )
    return {"prefecture": prefecture, "city": city, "town": town, "block": block or remainder}


def verified_prefill(spec: FormSpec, attributes: VerifiedAttributes) -> dict[str, Any]:
    """Raw answers for the applicant's fields from verified attributes (only those known)."""
    fields = applicant_fields(spec)
    answers: dict[str, Any] = {}
    if fields.name and attributes.name:
        parts = _NAME_SPLIT.split(attributes.name.strip(), maxsplit=1)
        kana = _NAME_SPLIT.split(attributes.name_kana.strip(), maxsplit=1)
        answers[fields.name] = {
            "family": parts[0],
            "given": parts[1] if len(parts) > 1 else "",
            "family_kana": kana[0] if attributes.name_kana else "",
            "given_kana": kana[1] if len(kana) > 1 else "",
        }
    if fields.birth_date and attributes.birth_date:
        answers[fields.birth_date] = attributes.birth_date
    if fields.address and attributes.address:
        answers[fields.address] = {
            "postal_code": "",
            "building": "",
            **split_address(attributes.address),
        }
    return answers


@dataclass(frozen=True)
class Mismatch:
    """One applicant field whose answer differs from the verified attribute."""

    key: str
    label: str
    answered: str
    verified: str


def _answer_name(value: Any) -> str:
    if not isinstance(value, Mapping):
        return ""
    return f"{value.get('family', '')} {value.get('given', '')}".strip()


def _answer_address(value: Any, *, building: bool) -> str:
    if not isinstance(value, Mapping):
        return ""
    parts = ["prefecture", "city", "town", "block"] + (["building"] if building else [])
    return "".join(str(value.get(p) or "") for p in parts)


def attribute_mismatches(
    spec: FormSpec, answers: Mapping[str, Any], attributes: VerifiedAttributes
) -> list[Mismatch]:
    """The applicant's fields whose (normalised) answers differ from ``attributes``.

    A field the form does not have, or an attribute the source did not state, is not a
    mismatch. A name matches the card's name or its substitute (代替文字) form.
    """
    fields = applicant_fields(spec)
    labels = {f.key: f.label for step in spec.steps for f in step.fields}
    found: list[Mismatch] = []
    if fields.name and attributes.name and fields.name in answers:
        answered = _answer_name(answers[fields.name])
        candidates = {name_key(attributes.name), name_key(attributes.name_substitute)} - {""}
        if name_key(answered) not in candidates:
            found.append(Mismatch(fields.name, labels[fields.name], answered, attributes.name))
    if fields.birth_date and attributes.birth_date and fields.birth_date in answers:
        answered = str(answers[fields.birth_date] or "")
        if answered != attributes.birth_date:
            found.append(
                Mismatch(
                    fields.birth_date, labels[fields.birth_date], answered, attributes.birth_date
                )
            )
    if fields.address and attributes.address and fields.address in answers:
        value = answers[fields.address]
        candidates = {address_key(attributes.address), address_key(attributes.address_substitute)}
        candidates.discard("")
        typed = {
            address_key(_answer_address(value, building=True)),
            address_key(_answer_address(value, building=False)),
        }
        if not typed & candidates:
            found.append(
                Mismatch(
                    fields.address,
                    labels[fields.address],
                    _answer_address(value, building=True),
                    attributes.address,
                )
            )
    return found


def verified_fields(
    spec: FormSpec, answers: Mapping[str, Any], attributes: VerifiedAttributes
) -> list[str]:
    """Keys of the applicant's fields whose answers equal what ``attributes`` state (the
    portal marks them 「マイナンバーカードで確認済み」); a field changed since is not one."""
    fields = applicant_fields(spec)
    stated = {
        fields.name: attributes.name,
        fields.birth_date: attributes.birth_date,
        fields.address: attributes.address,
    }
    mismatched = {m.key for m in attribute_mismatches(spec, answers, attributes)}
    return [
        key
        for key, value in stated.items()
        if key and value and answers.get(key) and key not in mismatched
    ]
