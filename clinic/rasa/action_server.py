"""The clinic's action server: Rasa SDK's executor behind a shared secret and size limits.

``python -m clinic.rasa.action_server --port 5055`` replaces ``rasa run actions``. Rasa SDK's own
server accepts any hand-made tracker from anyone who can reach it (a forged call could save a
booking, a consent and a FACIAL50 redemption), inflates a ``deflate`` body without a limit,
allows every CORS origin and echoes the request body in its error replies. This server runs
the same actions (``actions/``) with the same executor, and:

* obeys only Rasa: every call but ``/health`` must carry the shared secret
  ``CLINIC_ACTIONS_TOKEN`` in the ``X-Clinic-Actions-Token`` header (Rasa sends it, see
  ``endpoints.yml``); without it the answer is 401 before any body is read or any action runs;
* refuses to start without a strong secret (at least 24 characters);
* limits the body: at most ``MAX_BODY_BYTES`` on the wire (Sanic answers 413), and a
  compressed body may inflate to at most ``MAX_INFLATED_BYTES``;
* allows no CORS origin (only Rasa, a server, calls it) and answers errors with a short
  message that never contains the request.

A conversation's whole tracker travels with each call, so the limits are larger than the
64 KB of the public endpoints; they still bound what an attacker with the secret could send.
"""

from __future__ import annotations

import argparse
import hmac
import json
import logging
import os
import zlib

from rasa_sdk import utils
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.interfaces import ActionExecutionRejection, ActionNotFoundException
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from clinic.config.log_privacy import install_log_scrubbing
from clinic.config.private_files import private_files
from clinic.config.secrets import MIN_SECRET_LENGTH, SecretError, require_secret
from clinic.config.settings import settings

logger = logging.getLogger(__name__)

TOKEN_HEADER = "X-Clinic-Actions-Token"
TOKEN_ENV = "CLINIC_ACTIONS_TOKEN"
MAX_BODY_BYTES = 1024 * 1024
MAX_INFLATED_BYTES = 8 * 1024 * 1024
DEFAULT_PORT = 5055


class BodyTooLarge(ValueError):
    """A compressed body inflates beyond ``MAX_INFLATED_BYTES``."""


def inflate(body: bytes, limit: int = MAX_INFLATED_BYTES) -> bytes:
    """Inflate a zlib (``deflate``) body, refusing to produce more than ``limit`` bytes."""
    inflater = zlib.decompressobj()
    data = inflater.decompress(body, limit + 1)
    if len(data) > limit or inflater.unconsumed_tail:
        raise BodyTooLarge(f"the body inflates to more than {limit} bytes")
    return data


def call_shape_problem(call: object) -> str | None:
    """Why a decoded body is not an action call Rasa would send, or None."""
    if not isinstance(call, dict):
        return "the body must be a JSON object"
    if not isinstance(call.get("next_action"), str):
        return "'next_action' must be a string"
    tracker = call.get("tracker", {})
    if not isinstance(tracker, dict):
        return "'tracker' must be an object"
    for key, kind in (("events", list), ("slots", dict), ("latest_message", dict)):
        if tracker.get(key) is not None and not isinstance(tracker[key], kind):
            return f"'tracker.{key}' has the wrong type"
    if call.get("domain") is not None and not isinstance(call["domain"], dict):
        return "'domain' must be an object"
    return None


def error(status: int, message: str) -> HTTPResponse:
    """A short JSON error that never repeats what was sent."""
    return response.json({"error": message}, status=status)


def create_app(token: str, actions_package: str = "actions") -> Sanic:
    """The action server's Sanic app, obeying only calls that carry ``token``."""
    app = Sanic("clinic_actions", configure_logging=False)
    app.config.REQUEST_MAX_SIZE = MAX_BODY_BYTES
    app.config.FALLBACK_ERROR_FORMAT = "json"
    executor = ActionExecutor()
    executor.register_package(actions_package)
    expected = token.encode("utf-8")

    def authorised(request: Request) -> bool:
        given = request.headers.get(TOKEN_HEADER, "").encode("utf-8")
        return hmac.compare_digest(given, expected)

    @app.on_request
    async def check_token(request: Request) -> HTTPResponse | None:
        if request.path == "/health":
            return None
        if not authorised(request):
            logger.warning("Refused an action server call without the shared secret.")
            return error(401, "not authorised")
        return None

    @app.get("/health")
    async def health(_: Request) -> HTTPResponse:
        return response.json({"status": "ok"})

    @app.get("/actions")
    async def list_actions(_: Request) -> HTTPResponse:
        return response.json([{"name": name} for name in executor.actions])

    @app.post("/webhook")
    async def webhook(request: Request) -> HTTPResponse:
        try:
            body = request.body or b""
            if request.headers.get("Content-Encoding", "").lower() == "deflate":
                body = inflate(body)
            action_call = json.loads(body) if body else None
        except BodyTooLarge:
            return error(413, "request body too large")
        except (zlib.error, UnicodeDecodeError, ValueError, RecursionError):
            return error(400, "the body is not valid JSON")
        problem = call_shape_problem(action_call)
        if problem or not isinstance(action_call, dict):
            return error(400, problem or "the body must be a JSON object")
        utils.check_version_compatibility(action_call.get("version"))
        try:
            result = await executor.run(action_call)
        except ActionExecutionRejection as rejection:
            return response.json({"error": rejection.message,
                                  "action_name": rejection.action_name}, status=400)
        except ActionNotFoundException as missing:
            logger.error("Rasa asked for an unknown action %r.", missing.action_name)
            return response.json({"error": missing.message,
                                  "action_name": missing.action_name}, status=404)
        return response.json(result)

    @app.exception(Exception)  # type: ignore[no-untyped-call]  # untyped in Sanic
    async def failed(request: Request, exception: Exception) -> HTTPResponse:
        status = getattr(exception, "status_code", 500) or 500
        if status >= 500:
            logger.error("An action failed: %s", type(exception).__name__,
                         exc_info=exception)
            return error(500, "the action failed")
        return error(status, "request refused")

    return app


def warm_medicines() -> None:
    from clinic.knowledge.medicines import find_medicines

    find_medicines("warfarin")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--host", default=None,
                        help="interface to listen on (default: the bind setting, 127.0.0.1)")
    parser.add_argument("--actions", default="actions", help="package with the actions")
    args = parser.parse_args(argv)
    private_files()
    install_log_scrubbing()
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s - %(message)s")
    try:
        token = require_secret(TOKEN_ENV)
    except SecretError as problem:
        parser.exit(2, f"{problem}\n")
    host = args.host or settings().bind
    app = create_app(token, args.actions)
    # The medicine dictionary takes seconds to load: at start, not on a patient's message.
    warm_medicines()
    logger.info("Action server on http://%s:%s (secret checked, at least %s characters).",
                host, args.port, MIN_SECRET_LENGTH)
    app.run(host=host, port=args.port, access_log=False, workers=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
