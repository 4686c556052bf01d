"""Mail printed on the console for `make run`, readable as it is.

Django's console backend prints the MIME message, whose Japanese subject and body are
base64: nobody trying the demo can read the receipt mail or follow a confirmation link.
This prints the same message decoded instead.
"""

from __future__ import annotations

from typing import Any

from django.core.mail.backends.console import EmailBackend as DjangoConsoleBackend


class EmailBackend(DjangoConsoleBackend):
    def write_message(self, message: Any) -> None:
        lines = [
            "=" * 79,
            f"From: {message.from_email}",
            f"To: {', '.join(message.to)}",
            f"Subject: {message.subject}",
            "",
            str(message.body),
            "=" * 79,
        ]
        self.stream.write("\n".join(lines) + "\n")
