"""Calling a library's synchronous wrapper around ``asyncio.run`` from any thread.

pyHanko's synchronous API (``PdfSigner.sign_pdf``, ``PdfTimeStamper.timestamp_pdf`` …) runs
its coroutine with ``asyncio.run``, which refuses to start where an event loop is already
running in the same thread — an ASGI worker, or a test that drives Chromium through
Playwright's synchronous API (its loop stays current in the main thread). :func:`off_loop`
runs such a call in a short-lived thread of its own in that case, and directly otherwise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor


def off_loop[T](call: Callable[[], T]) -> T:
    """``call()``, in another thread when this thread has a running event loop. Exceptions
    propagate unchanged."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return call()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="off-loop") as pool:
        return pool.submit(call).result()
