"""Start the Rasa server the safe way: ``python -m clinic.rasa.server [rasa run options]``.

It runs ``rasa run`` (same options, e.g. ``--port``, ``--model``, ``--credentials``,
``--endpoints``, ``--cors``) after checking what a clinic must not get wrong:

* the HTTP API is on, and only with authentication: ``--auth-token`` is taken from
  ``CLINIC_RASA_API_TOKEN`` (never from the command line, where ``ps`` would show it); the
  server refuses to start if it is missing or weak. Every API call (reading a tracker,
  posting events, ``/execute``, ``PUT``/``DELETE /model``, even ``/status``) then needs
  ``?token=...``; the channels' webhooks stay public;
* it listens on the ``bind`` setting (``CLINIC_BIND``, default 127.0.0.1) unless ``-i`` is
  given. Beyond loopback it refuses to start without ``CLINIC_API_TOKEN`` (the REST channel's
  bearer token);
* the action server's secret ``CLINIC_ACTIONS_TOKEN`` (sent by ``endpoints.yml``) and the
  widget's ``CLINIC_SESSION_SECRET`` must be set and strong;
* request bodies are limited to 64 KB (HTTP 413 beyond), Rasa's telemetry and error
  reporting are off, and log lines are scrubbed of personal data (``clinic.config.log_privacy``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from clinic.config.private_files import private_files
from clinic.config.secrets import SecretError, require_secret

MAX_BODY_BYTES = 64 * 1024
API_TOKEN_ENV = "CLINIC_RASA_API_TOKEN"
CONSOLE_JWT_ENV = "CLINIC_CONSOLE_JWT_SECRET"
REQUIRED_SECRETS = (API_TOKEN_ENV, "CLINIC_ACTIONS_TOKEN", "CLINIC_SESSION_SECRET")
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class StartupRefused(RuntimeError):
    """The server must not start like this; the message says why and how to fix it."""


def check_environment(environ: dict[str, str], interface: str) -> str:
    """The API token, after checking every start-up rule; StartupRefused otherwise."""
    try:
        values = {name: require_secret(name, environ) for name in REQUIRED_SECRETS}
        if environ.get(CONSOLE_JWT_ENV):
            require_secret(CONSOLE_JWT_ENV, environ)
    except SecretError as problem:
        raise StartupRefused(str(problem)) from None
    if interface not in LOOPBACK and not environ.get("CLINIC_API_TOKEN", "").strip():
        raise StartupRefused(
            f"The Rasa server would listen on {interface}, beyond this machine, but "
            "CLINIC_API_TOKEN is not set: the REST channel needs a bearer token there. Set "
            "it, or keep CLINIC_BIND=127.0.0.1 behind the proxy (see deploy/).")
    return values[API_TOKEN_ENV]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a == "--auth-token" or a.startswith("--auth-token=") or a == "--enable-api"
           for a in argv):
        print("Do not pass --auth-token or --enable-api: the API token comes from "
              f"{API_TOKEN_ENV}.", file=sys.stderr)
        return 2
    private_files()
    os.environ["RASA_TELEMETRY_ENABLED"] = "false"
    os.environ["SANIC_REQUEST_MAX_SIZE"] = str(MAX_BODY_BYTES)
    os.environ["SANIC_WEBSOCKET_MAX_SIZE"] = str(MAX_BODY_BYTES)
    os.environ.setdefault("SANIC_FALLBACK_ERROR_FORMAT", "json")

    # Imported after the environment above is set: Rasa and Sanic read it when imported.
    from clinic.config.log_privacy import install_log_scrubbing
    from clinic.config.settings import settings
    from clinic.rasa import patches as rasa_patches

    install_log_scrubbing()
    rasa_patches.install()
    peek = argparse.ArgumentParser(add_help=False)
    peek.add_argument("-i", "--interface", default=None)
    interface = peek.parse_known_args(argv)[0].interface
    if interface is None:
        interface = settings().bind
        argv = ["--interface", interface, *argv]
    try:
        token = check_environment(dict(os.environ), interface)
    except StartupRefused as refusal:
        print(f"Refusing to start the Rasa server: {refusal}", file=sys.stderr)
        return 2
    return run_rasa(["run", *argv], token)


def run_rasa(argv: list[str], auth_token: str) -> int:
    """Rasa's own ``main()``, with the API enabled and its token set after parsing."""
    # Lazy: Rasa is imported only after main() has set up the environment.
    import rasa.telemetry
    import rasa.utils.io
    from rasa.__main__ import create_argument_parser
    from rasa.plugin import plugin_manager
    from rasa.shared.exceptions import RasaException
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog
    from rasa.utils.tensorflow import environment as tf_env

    arguments = create_argument_parser().parse_args(argv)
    arguments.enable_api = True
    arguments.auth_token = auth_token
    # The staff console's narrower credential: short-lived JWTs that may only append events
    # to one conversation (clinic.rasa.channels.blueprint.guard_jwt_scope), never the API token.
    console_secret = os.environ.get(CONSOLE_JWT_ENV, "")
    if console_secret:  # checked by check_environment
        arguments.jwt_secret = console_secret
        arguments.jwt_method = "HS256"
    log_level = getattr(arguments, "loglevel", None)
    configure_logging_and_warnings(log_level, getattr(arguments, "logging_config_file", None),
                                   warn_only_once=True, filter_repeated_logs=True)
    tf_env.setup_tf_environment()
    sys.path.insert(1, os.getcwd())
    rasa.utils.io.configure_colored_logging(log_level)
    rasa.telemetry.initialize_telemetry()
    plugin_manager().hook.init_anonymization_pipeline(endpoints_file=None)
    configure_structlog(log_level)
    try:
        arguments.func(arguments)
    except RasaException as error:
        logging.getLogger(__name__).error("%s: %s", type(error).__name__, error)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
