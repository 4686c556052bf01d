"""Which OPs this installation uses: from settings, or the demo identity provider.

A provider is configured when its issuer, client id and private key are all set (see the
README, 「マイナンバーカードでのログインと署名（OpenID Connect）」). When none of them is set
and the installation is not in production, the demo identity provider served by this
installation at ``/demo-idp/<provider>/`` stands in, with an RP key pair generated once into
the data directory: ``make run`` works out of the box. Production never falls back to it.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from madoguchi.identity.providers.base import ProviderConfig, identity_providers
from madoguchi.identity.providers.keys import key_file_ensure

DEMO_CLIENT_ID = "madoguchi-demo"
DEMO_PATH = "/demo-idp"


def demo_key_paths() -> tuple[Path, Path]:
    """The RP keys used with the demo identity provider (created on first use)."""
    folder = Path(settings.DATA_DIR) / "oidc"
    return (
        key_file_ensure(folder / "rp-signing.pem"),
        key_file_ensure(folder / "rp-encryption.pem"),
    )


def _configured(key: str) -> dict[str, str]:
    raw = {"national": settings.OIDC_NATIONAL, "gbizid": settings.OIDC_GBIZID}.get(key) or {}
    return {k: str(v) for k, v in raw.items()}


def provider_config(key: str, *, base_url: str) -> ProviderConfig | None:
    """The configuration of provider ``key`` (``national``, ``gbizid``), or None when it is
    not available here. ``base_url`` (this site, as the browser reached it) places the demo
    identity provider."""
    if key not in identity_providers:
        return None
    plugin = identity_providers[key]
    raw = _configured(key)
    acr = raw.get("acr_values", "")
    if raw.get("issuer") and raw.get("client_id") and raw.get("private_key"):
        encryption = raw.get("encryption_key", "")
        return ProviderConfig(
            key=key,
            issuer=raw["issuer"],
            client_id=raw["client_id"],
            signing_key_path=Path(raw["private_key"]),
            encryption_key_path=Path(encryption) if encryption else None,
            scopes=plugin.scopes,
            acr_values=acr,
        )
    if settings.PRODUCTION or not settings.DEMO_IDP or raw.get("issuer"):
        return None
    demo_signing, demo_encryption = demo_key_paths()
    return ProviderConfig(
        key=key,
        issuer=base_url.rstrip("/") + f"{DEMO_PATH}/{key}",
        client_id=DEMO_CLIENT_ID,
        signing_key_path=demo_signing,
        encryption_key_path=demo_encryption,
        scopes=plugin.scopes,
        acr_values=acr,
        demo=True,
    )


def providers_available(*, base_url: str) -> dict[str, ProviderConfig]:
    found = {}
    # The national login first: it is what most residents have.
    for key in sorted(identity_providers, key=lambda k: (k != "national", k)):
        config = provider_config(key, base_url=base_url)
        if config is not None:
            found[key] = config
    return found
