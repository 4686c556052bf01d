"""Identity providers over OpenID Connect (plugins registered in :mod:`.base`)."""

from madoguchi.identity.providers import gbizid, national

__all__ = ["gbizid", "national"]
