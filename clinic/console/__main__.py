"""``python -m clinic.console [--host H] [--port N]``: run the staff console.

Defaults come from ``console_bind`` and ``console_port`` (settings.yml, or
CLINIC_CONSOLE_BIND / CLINIC_CONSOLE_PORT): http://127.0.0.1:8001/.
"""

from __future__ import annotations

import argparse
import logging
import os

from aiohttp import web

from clinic.config.log_privacy import install_log_scrubbing
from clinic.config.private_files import private_files
from clinic.config.settings import settings
from clinic.console.app import create_app
from clinic.store.db import get_engine


def main(argv: list[str] | None = None) -> None:
    """Start the console and serve until interrupted."""
    config = settings()
    parser = argparse.ArgumentParser(prog="python -m clinic.console")
    parser.add_argument("--host", default=config.console_bind)
    parser.add_argument("--port", type=int, default=int(config.console_port))
    args = parser.parse_args(argv)
    private_files()
    if os.environ.get("CLINIC_CONSOLE_JWT_SECRET"):
        # The console reaches Rasa with one-minute JWTs; it does not keep the API token
        # (which the venv may have read from var/secrets.env).
        os.environ.pop("CLINIC_RASA_API_TOKEN", None)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    install_log_scrubbing()  # as the other servers: no phone numbers or tokens in the log
    # aiohttp's access log would carry query strings; the console's URLs hold no personal
    # data, but the log is still kept short.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    get_engine()  # migrate the clinic database before the first request
    print(f"Staff console on http://{args.host}:{args.port}/", flush=True)
    web.run_app(create_app(), host=args.host, port=args.port, print=None,
                access_log=None)


if __name__ == "__main__":
    main()
