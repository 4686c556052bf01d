"""Electronic signatures with the My Number card (公的個人認証, JPKI): CMS verification,
certificate path and revocation, and the 基本4情報 the signing certificate carries.

- ``services``: ``signature_verify`` (the one check), ``signature_wrap_raw``,
  ``jpki_crl_import``, ``jpki_revocation_set``
- ``cms``: the accepted CMS form, bounded parsing, building detached SignedData
- ``profile``: the J-LIS signing certificate profile and the choices made where it is not public
- ``trust``: trust anchors (``MADOGUCHI_JPKI_TRUST_ANCHORS``, the test CA outside production)
- ``revocation``: the revocation plugins (``crl``, ``api``)
- ``testca``: the installation's test CA and test cards (``madoguchi card``), never in production
"""
