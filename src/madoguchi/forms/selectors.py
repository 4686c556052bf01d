"""Reads of form definitions."""

from __future__ import annotations

from madoguchi.forms.base import FormSpec
from madoguchi.forms.models import FormVersion
from madoguchi.forms.schema import build_spec

_SPECS: dict[str, FormSpec] = {}
_MAX_CACHED = 1024


def form_spec(version: FormVersion) -> FormSpec:
    """The typed spec of a stored version, cached by content digest (versions are immutable)."""
    spec = _SPECS.get(version.digest)
    if spec is None:
        spec = build_spec(version.schema)
        if len(_SPECS) >= _MAX_CACHED:
            _SPECS.clear()
        _SPECS[version.digest] = spec
    return spec
