"""A bound on the Django requests one ASGI process runs at once, so a burst queues instead of failing.

Django's ASGI handler gives every request a thread of its own (a ThreadSensitiveContext
per request) and every thread its own database connection. 600 concurrent commands were
600 threads: on SQLite, 600 writers fighting over one lock (`database is locked`: 500s, lost
audit rows, keys left reserved); on PostgreSQL, more connections than the server allows
(`too many clients`). Requests past the bound wait here, as a coroutine costing neither a
thread nor a connection, and go on in arrival order. Event streams are not counted: they
are async, hold no thread, and live for hours.
"""

import asyncio
import weakref

# Enough to keep two cores busy while some requests wait on IPC sockets or file locks;
# well under PostgreSQL's default max_connections (100) even with several processes.
MAX_IN_FLIGHT = 16
# Long-lived streams served over plain HTTP (realtime/stream/urls.py).
STREAM_SUFFIXES = ("/events-sse",)


class AdmissionASGI:
    def __init__(self, app, *, limit: int = MAX_IN_FLIGHT):
        self.app = app
        self.limit = limit
        # One semaphore per event loop: tests run each on a loop of their own.
        self._gates: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"].endswith(STREAM_SUFFIXES):
            return await self.app(scope, receive, send)
        loop = asyncio.get_running_loop()
        gate = self._gates.get(loop)
        if gate is None:
            gate = self._gates[loop] = asyncio.Semaphore(self.limit)
        async with gate:
            await self.app(scope, receive, send)
