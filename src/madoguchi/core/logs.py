"""Logs (ログ): one JSON object a line (or plain text), each with the request id, and no
personal data.

**Format.** ``MADOGUCHI_LOG_FORMAT=json`` (the default in production): one JSON object per
line, made by python-json-logger, with ``time``, ``level``, ``logger``, ``message``,
``request_id`` and ``role``, plus the fields a line adds (the access line: ``method``,
``route``, ``status``, ``duration_ms``). ``plain`` (the default in development): one line of
text that shows the request id as well.

**Request id.** :class:`RequestIdMiddleware`, the outermost middleware, takes the incoming
``X-Request-ID`` when it is a short safe token (8 to 64 characters of letters, digits, ``.``,
``_`` and ``-``: what a load balancer or proxy sets; not one that looks like a My Number),
else makes one, returns it in the
response's ``X-Request-ID`` and keeps it in a context variable that :class:`ContextFilter`
adds to every record logged while the request is handled. The outbox worker takes a fresh id
for each loop, a management command one for its run (``worker-…``, ``cmd-…``).

**Access line.** One line per request, from the logger ``madoguchi.access``: method, the
route's name (``portal:search``, never the path: paths carry receipt numbers and tokens),
status, duration in milliseconds, request id and role. No query string, no header, no body.

**No personal data.** The code logs ids and codes, never answers, names or addresses. As a
defence when something slips through, :class:`RedactFilter` (on the handler, so it sees every
record of every logger) rewrites the message and the exception text. An exception is logged
with its traceback and type but without its message (:func:`exception_text`): messages carry
data — a database's "Key (email)=(…) already exists", a view's own text. Runs of 12 digits (a My
Number, also written 1234-5678-9012 or in full-width digits) become ``[12桁の番号]``, anything
shaped like an e-mail address becomes ``[メールアドレス]``; and it drops the ``request`` that
Django attaches to its ``django.request`` and ``django.security`` records (its text would
carry the query string). The formatters redact their final text once more. Django itself
logs no POST data (``django.request`` logs "Internal Server Error: <path>" with the traceback;
the traceback is redacted like any exception text), and the ``django`` logger's own handlers
(``mail_admins``, the debug console) are replaced by the root handler.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
import traceback
from collections.abc import Callable
from contextvars import ContextVar
from datetime import datetime
from typing import Any, Final

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

#: The id of the request (or worker loop, or command) being handled in this context.
REQUEST_ID: Final[ContextVar[str]] = ContextVar("madoguchi_request_id", default="-")
HEADER: Final = "X-Request-ID"
_SAFE_ID: Final = re.compile(r"[A-Za-z0-9._-]{8,64}")

_TWELVE_DIGITS: Final = re.compile(r"(?<!\d)\d{4}[ \-‐－]?\d{4}[ \-‐－]?\d{4}(?!\d)")
_EMAIL: Final = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+(?:@|＠)[\w-]+(?:\.[\w-]+)+")


def redact(text: str) -> str:
    """``text`` with 12-digit numbers and e-mail addresses replaced (see the module text)."""
    if not text:
        return text
    return _EMAIL.sub("[メールアドレス]", _TWELVE_DIGITS.sub("[12桁の番号]", text))


def exception_text(exc_info: Any) -> str:
    """The traceback of ``exc_info`` — files, lines, functions and the exception's type —
    without the exception's message (nor those of its causes): messages carry data (a
    database's "Key (email)=(…) already exists", a view's own text), frames do not."""
    _, value, _ = exc_info
    if value is None:
        return ""
    try:
        head = traceback.TracebackException.from_exception(value)
        seen: set[int] = set()
        stack: list[traceback.TracebackException] = [head]
        while stack:
            item = stack.pop()
            if id(item) in seen:
                continue
            seen.add(id(item))
            item._str = "（例外の内容はログに残しません）"  # type: ignore[attr-defined]
            item.__notes__ = None
            stack.extend(x for x in (item.__cause__, item.__context__) if x is not None)
            stack.extend(item.exceptions or ())
        return "".join(head.format()).rstrip("\n")
    except Exception:
        return f"{type(value).__name__}（例外の内容はログに残しません）"


def request_id_new(prefix: str = "") -> str:
    """A fresh id: 16 URL-safe characters (with ``prefix-`` in front when given)."""
    token = secrets.token_urlsafe(12)
    return f"{prefix}-{token}" if prefix else token


def request_id_bind(value: str) -> None:
    """Use ``value`` as the id of what this context does from now on (a loop, a command)."""
    REQUEST_ID.set(value)


def request_id_accept(incoming: str | None) -> str:
    """The incoming ``X-Request-ID`` when it is a short safe token, else a fresh id."""
    if incoming and _SAFE_ID.fullmatch(incoming) and redact(incoming) == incoming:
        return incoming
    return request_id_new()


class ContextFilter(logging.Filter):
    """Adds ``request_id`` and ``role`` to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        if not hasattr(record, "role"):
            record.role = _role()
        return True


def _role() -> str:
    from django.conf import settings

    try:
        return str(getattr(settings, "ROLE", "all"))
    except Exception:  # settings not configured (a bare script)
        return "-"


class RedactFilter(logging.Filter):
    """Redacts the message and the exception text, and drops Django's ``request`` (see the
    module text). On the handler: it sees the records of every logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep the raw text
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = exception_text(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
            # Formatters print exc_text when it is set; the live exception is not needed.
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        if hasattr(record, "request"):
            del record.request
        return True


class PlainFormatter(logging.Formatter):
    """``time level logger [request id] message``; redacted once more."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        return redact(super().format(record))

    def formatException(self, ei: Any) -> str:  # noqa: N802 (logging's name)
        return redact(exception_text(ei))


class JsonFormatter(_JsonFormatter):
    """One JSON object a line (python-json-logger); redacted once more."""

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(role)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            json_ensure_ascii=False,
        )

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        if not hasattr(record, "role"):
            record.role = "-"
        return redact(super().format(record))

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        """ISO 8601 with the offset, to the millisecond (``2026-12-05T12:35:43.114+09:00``):
        log collectors read it without guessing the zone."""
        moment = datetime.fromtimestamp(record.created).astimezone()
        return moment.isoformat(timespec="milliseconds")

    def formatException(self, ei: Any) -> str:  # noqa: N802 (logging's name)
        return redact(exception_text(ei))


ACCESS: Final = logging.getLogger("madoguchi.access")


class RequestIdMiddleware:
    """The request id and the access line (see the module text). The outermost middleware."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        request_id = request_id_accept(request.META.get("HTTP_X_REQUEST_ID"))
        token = REQUEST_ID.set(request_id)
        request.request_id = request_id
        started = time.perf_counter()
        status = 500
        try:
            response = self.get_response(request)
            status = response.status_code
            response[HEADER] = request_id
            return response
        finally:
            match = getattr(request, "resolver_match", None)
            route = (match.view_name or "-") if match is not None else "-"
            duration = (time.perf_counter() - started) * 1000
            ACCESS.info(
                "%s %s %s %.1fms",
                request.method,
                route,
                status,
                duration,
                extra={
                    "method": request.method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(duration, 1),
                },
            )
            REQUEST_ID.reset(token)
