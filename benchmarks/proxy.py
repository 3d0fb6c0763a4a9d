"""A counting reverse proxy for a real API server: HTTPS on 127.0.0.1 (a throwaway CA, as the
emulator serves), every request logged with its time, method, path and query, then passed on to
the real server unchanged (headers and credentials included) and its answer streamed back (watches
stay open as long as the server keeps them)."""

from __future__ import annotations

import ssl
import threading
import time

import aiohttp
from aiohttp import web

from benchmarks.requests_log import Request
from emulator.server import BackgroundServer

# Set by the client library for each hop; passing them on would confuse the hop that follows.
HOP_HEADERS = frozenset(
    {
        "host",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "proxy-connection",
        "upgrade",
        "te",
        "trailer",
    }
)


class CountingProxy:
    def __init__(self, upstream: str, upstream_ca_pem: str):
        self.upstream = upstream.rstrip("/")
        self._upstream_ssl = ssl.create_default_context(cadata=upstream_ca_pem)
        self._lock = threading.Lock()
        self._log: list[Request] = []
        self._session: aiohttp.ClientSession | None = None
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        app.on_cleanup.append(self._close_session)
        self._server = BackgroundServer(app, tls=True)

    def start(self) -> CountingProxy:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def ca_pem(self) -> str:
        return self._server.ca_pem

    def clear(self) -> None:
        with self._lock:
            self._log.clear()

    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._log)

    async def _close_session(self, _app) -> None:
        if self._session is not None:
            await self._session.close()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            self._log.append(Request(time.time(), request.method, request.path, request.query_string))
        if self._session is None:
            # trust_env=False: 127.0.0.1 and the cluster are never reached through a proxy.
            self._session = aiohttp.ClientSession(
                auto_decompress=False, trust_env=False, timeout=aiohttp.ClientTimeout(total=None)
            )
        headers = {key: value for key, value in request.headers.items() if key.lower() not in HOP_HEADERS}
        body = await request.read()
        async with self._session.request(
            request.method,
            self.upstream + request.rel_url.raw_path_qs,
            headers=headers,
            data=body or None,
            ssl=self._upstream_ssl,
            allow_redirects=False,
        ) as answer:
            response = web.StreamResponse(status=answer.status, reason=answer.reason)
            for key, value in answer.headers.items():
                if key.lower() not in HOP_HEADERS:
                    response.headers.add(key, value)
            await response.prepare(request)
            async for chunk in answer.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response
