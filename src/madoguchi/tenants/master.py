"""Reading the organisation master out of the ``japancode`` package, offline.

The package ships two JSON files (prefectures and municipalities, wards included). Its codes
lose their leading zero for prefectures 01–09 ("11002" is 札幌市 011002), and wards are
written "札幌市 中央区". This module turns that into verified :class:`MasterRecord` rows and
refuses data it does not understand rather than guessing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from importlib import metadata, resources
from typing import Any

from madoguchi.core.lgcode import is_valid
from madoguchi.core.text import hiragana_to_katakana
from madoguchi.tenants.constants import MASTER_SOURCE, OrganisationKind


class MasterDataError(ValueError):
    """The master data has a row we cannot interpret safely."""


@dataclass(frozen=True)
class MasterRecord:
    lg_code: str
    name: str
    kana: str
    name_en: str
    kind: OrganisationKind
    prefecture_code: str
    parent_lg_code: str | None
    latitude: Decimal | None
    longitude: Decimal | None


@dataclass(frozen=True)
class MasterData:
    source: str
    digest: str
    records: tuple[MasterRecord, ...]


def _read(name: str) -> bytes:
    return resources.files("japancode").joinpath("data", name).read_bytes()


def _code(raw: str, where: str) -> str:
    # The package stores codes as numbers-as-text, so 011002 arrives as "11002": zero-fill,
    # then insist on the check digit. A value that still fails is refused, not guessed at.
    digits = raw.strip().zfill(6)
    if not is_valid(digits):
        raise MasterDataError(f"{where}: code {raw!r} is not a valid 全国地方公共団体コード")
    return digits


def _coordinate(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    return Decimal(str(value)).quantize(Decimal("0.0000001"))


def load_master_data() -> MasterData:
    """Parse the packaged master into verified records (prefectures first, parents before wards)."""
    pref_bytes = _read("prefectures.json")
    muni_bytes = _read("municipalities.json")
    digest = hashlib.sha256(pref_bytes + b"\0" + muni_bytes).hexdigest()
    prefectures: list[dict[str, Any]] = json.loads(pref_bytes)
    municipalities: list[dict[str, Any]] = json.loads(muni_bytes)

    records: list[MasterRecord] = []
    for row in prefectures:
        code = _code(str(row["lgcode"]), f"prefecture {row.get('pref')}")
        records.append(
            MasterRecord(
                lg_code=code,
                name=row["pref"],
                kana=hiragana_to_katakana(row.get("prefkana") or ""),
                name_en=row.get("pref_en") or "",
                kind=OrganisationKind.PREFECTURE,
                prefecture_code=code[:2],
                parent_lg_code=None,
                latitude=None,
                longitude=None,
            )
        )

    designated = {row["city"].split(" ", 1)[0] for row in municipalities if " " in row["city"]}
    by_pref_and_name: dict[tuple[str, str], str] = {}
    pending_wards: list[dict[str, Any]] = []
    for row in municipalities:
        name: str = row["city"]
        code = _code(str(row["lgcode"]), f"municipality {name}")
        pref_code = str(row["pid"]).zfill(2)
        if code[:2] != pref_code:
            raise MasterDataError(f"{name}: code {code} is outside prefecture {pref_code}")
        if " " in name:
            pending_wards.append(row)
            continue
        if name in designated:
            kind = OrganisationKind.DESIGNATED_CITY
        elif pref_code == "13" and name.endswith("区"):
            kind = OrganisationKind.SPECIAL_WARD
        elif name.endswith("市"):
            kind = OrganisationKind.CITY
        elif name.endswith("町"):
            kind = OrganisationKind.TOWN
        elif name.endswith("村"):
            kind = OrganisationKind.VILLAGE
        else:
            raise MasterDataError(
                f"{name} ({code}): cannot tell whether it is a city, town or village"
            )
        by_pref_and_name[(pref_code, name)] = code
        records.append(
            MasterRecord(
                lg_code=code,
                name=name,
                kana=hiragana_to_katakana(row.get("citykana") or ""),
                name_en="",
                kind=kind,
                prefecture_code=pref_code,
                parent_lg_code=None,
                latitude=_coordinate(row.get("lat")),
                longitude=_coordinate(row.get("lng")),
            )
        )

    for row in pending_wards:
        city_name, ward_name = row["city"].split(" ", 1)
        code = _code(str(row["lgcode"]), f"ward {row['city']}")
        pref_code = str(row["pid"]).zfill(2)
        parent = by_pref_and_name.get((pref_code, city_name))
        if parent is None:
            raise MasterDataError(f"{row['city']}: its city {city_name} is not in the master")
        kana: str = row.get("citykana") or ""
        ward_kana = kana.split(" ", 1)[1] if " " in kana else kana
        records.append(
            MasterRecord(
                lg_code=code,
                name=ward_name.strip(),
                kana=hiragana_to_katakana(ward_kana),
                name_en="",
                kind=OrganisationKind.WARD,
                prefecture_code=pref_code,
                parent_lg_code=parent,
                latitude=_coordinate(row.get("lat")),
                longitude=_coordinate(row.get("lng")),
            )
        )

    codes = [record.lg_code for record in records]
    if len(codes) != len(set(codes)):
        raise MasterDataError("the master lists the same code twice")
    version = metadata.version(MASTER_SOURCE)
    return MasterData(source=f"{MASTER_SOURCE} {version}", digest=digest, records=tuple(records))
