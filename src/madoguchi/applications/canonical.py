"""The canonical form of an application: exactly the bytes a resident signs.

A signature binds the applicant to *these* answers, for *this* procedure of *this*
organisation — so a signature made for another application, another procedure or another
organisation never verifies. The bytes are UTF-8 JSON (RFC 8259) with

- object keys sorted by code point, no insignificant whitespace (``,`` and ``:`` only),
- strings as stored after validation (NFC, the form engine's normalisation), non-ASCII
  characters written as themselves, never as ``\\u`` escapes,
- numbers as integers (the form engine stores no floating point), ``true``/``false``/``null``,

and the document

.. code-block:: json

    {"answers": {...}, "form_version": 12, "format": "madoguchi-application/1",
     "organisation": "141020", "procedure": 34, "procedure_name": "児童手当 認定請求"}

where ``answers`` are the validated answers exactly as the application stores them before
sealing (attachments described as the platform checked them: id, name, kind, size), and
``organisation`` is the 全国地方公共団体コード (6 digits). ``POST /api/v1/procedures/<id>/canonical``
with the answers returns these bytes; the portal offers them as a file to download.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from madoguchi.catalog.models import Procedure

FORMAT: Final = "madoguchi-application/1"
CONTENT_TYPE: Final = "application/json; charset=utf-8"


def canonical_bytes(*, procedure: Procedure, answers: Mapping[str, Any]) -> bytes:
    """The canonical bytes of validated ``answers`` for ``procedure`` (module docstring)."""
    document = {
        "format": FORMAT,
        "organisation": procedure.organisation.lg_code,
        "procedure": procedure.pk,
        "procedure_name": procedure.name,
        "form_version": procedure.form_version_id,
        "answers": answers,
    }
    text = json.dumps(
        document, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
    )
    return text.encode("utf-8")
