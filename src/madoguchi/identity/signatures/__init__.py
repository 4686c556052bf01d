"""Electronic signatures with the My Number card (公的個人認証, JPKI): CMS verification,
certificate path and revocation, and the 基本4情報 the signing certificate carries."""
