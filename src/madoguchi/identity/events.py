"""Signals the identity app sends. Receivers live in higher layers (applications).

Sent *inside* the transaction that makes the change, so a receiver's writes commit or roll back
with it. They carry ids only, never addresses or names.
"""

from __future__ import annotations

from django.dispatch import Signal

#: kwargs: user_id. A resident's account is being closed: whatever a higher layer keeps for
#: that person alone (drafts, never sent to any organisation) must go now.
resident_closing = Signal()
