"""The words residents read for statuses and message kinds, marked for translation.

The model choices hold Japanese labels (the source language); templates pass them through
``{% translate %}``, and these markers put the same words in the catalogue so that the
English pages say "Under review" rather than a code or Japanese.
"""

from __future__ import annotations

from django.utils.translation import gettext_noop

RESIDENT_WORDS = (
    # ApplicationStatus
    gettext_noop("到達"),
    gettext_noop("受付"),
    gettext_noop("審査中"),
    gettext_noop("補正依頼中"),
    gettext_noop("補正済み"),
    gettext_noop("承認"),
    gettext_noop("却下"),
    gettext_noop("取下げ"),
    # ApplicationMessage.Kind
    gettext_noop("お知らせ"),
    gettext_noop("補正のお願い"),
    gettext_noop("決定のお知らせ"),
    gettext_noop("申請者からの返信"),
)
