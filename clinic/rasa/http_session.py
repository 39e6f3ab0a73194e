"""One kept-alive HTTP session per endpoint instead of a new one per call.

Rasa 3.6's ``EndpointConfig.request`` opens a new ``aiohttp.ClientSession`` (and so a new
TCP connection) for every call to the action server, and closes it after the reply. Here
each endpoint keeps one session per event loop and its connections stay open between
calls (HTTP keep-alive); the request itself (headers, parameters, timeout, errors) is
Rasa's, unchanged.

A connection is kept idle at most ``KEEPALIVE_S`` seconds, less than the action server's
own keep-alive timeout (Sanic's 5 s), so the client always closes an idle connection first
and never sends a call on a connection the server is closing at that moment. When the
action server is restarted (the cluster launcher does), its process' connections are
closed by the kernel, the pool drops them and the next call opens a new one; while it is
down, a call fails as before (``clinic.rasa.resilience``: "please try again").
"""

from __future__ import annotations

import asyncio
import os
import ssl
import weakref
from typing import Any

from clinic.rasa.replace import replace_method

KEEPALIVE_S = 2.0

SESSIONS_ATTRIBUTE = "_clinic_sessions"  # on an endpoint: loop -> session (weak on the loop)
_OPEN: list[tuple[Any, Any]] = []  # (loop, session) of every session opened, to close at shutdown


def shared_session(endpoint: Any) -> Any:
    """The endpoint's session on the running loop (created on first use, or after a close)."""
    import aiohttp
    from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT

    loop = asyncio.get_running_loop()
    # EndpointConfig defines __eq__ without __hash__: the sessions live on the instance.
    per_loop = endpoint.__dict__.setdefault(SESSIONS_ATTRIBUTE, weakref.WeakKeyDictionary())
    session = per_loop.get(loop)
    if session is None or session.closed:
        auth = (aiohttp.BasicAuth(endpoint.basic_auth["username"], endpoint.basic_auth["password"])
                if endpoint.basic_auth else None)
        session = aiohttp.ClientSession(
            headers=endpoint.headers, auth=auth,
            timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
            connector=aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_S))
        per_loop[loop] = session
        _OPEN[:] = [(lp, s) for lp, s in _OPEN if not s.closed]
        _OPEN.append((loop, session))
    return session


async def close_sessions() -> None:
    """Close the sessions of the running loop (at server shutdown)."""
    loop = asyncio.get_running_loop()
    mine = [(lp, s) for lp, s in _OPEN if lp is loop]
    _OPEN[:] = [(lp, s) for lp, s in _OPEN if lp is not loop]
    for _, session in mine:
        if not session.closed:
            await session.close()


async def request(self: Any, method: str = "post", subpath: str | None = None,
                  content_type: str | None = "application/json", compress: bool = False,
                  **kwargs: Any) -> Any:
    """Rasa's ``EndpointConfig.request``, on the endpoint's kept-alive session."""
    from aiohttp.client_exceptions import ContentTypeError
    from rasa.shared.exceptions import FileNotFoundException
    from rasa.utils.endpoints import ClientResponseError, concat_url

    headers = {}
    if content_type:
        headers["Content-Type"] = content_type
    if "headers" in kwargs:
        headers.update(kwargs.pop("headers"))
    if self.headers:
        headers.update(self.headers)
    url = concat_url(self.url, subpath)
    sslcontext = None
    if self.cafile:
        try:
            sslcontext = ssl.create_default_context(cafile=self.cafile)
        except FileNotFoundError as e:
            raise FileNotFoundException(
                f"Failed to find certificate file, '{os.path.abspath(self.cafile)}' does not exist."
            ) from e
    session = shared_session(self)
    async with session.request(method, url, headers=headers,
                               params=self.combine_parameters(kwargs), compress=compress,
                               ssl=sslcontext, **kwargs) as response:
        if response.status >= 400:
            raise ClientResponseError(response.status, response.reason,
                                      await response.content.read())
        try:
            return await response.json()
        except ContentTypeError:
            return None


def patch_endpoints(module: Any) -> None:
    """Install the kept-alive request on ``rasa.utils.endpoints.EndpointConfig``."""
    replace_method(module.EndpointConfig, "request", request)
