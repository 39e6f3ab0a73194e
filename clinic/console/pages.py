"""The console's pages: Jinja2 templates with autoescaping, rendered for the staff member
who is logged in (shared by every page module of the console)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from clinic.config.settings import settings
from clinic.console import security
from clinic.knowledge.kb import knowledge

HERE = Path(__file__).resolve().parent

templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(HERE / "templates")),
    autoescape=jinja2.select_autoescape(["html"]), undefined=jinja2.StrictUndefined)


def local(moment: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return moment.astimezone(settings().tz).strftime(fmt) if moment else ""


templates.filters["local"] = local


def render(request: web.Request, name: str, status: int = 200, **context: Any) -> web.Response:
    """A page from templates/, with the logged-in staff member and CSRF token."""
    logged_in: security.LoggedIn | None = request.get("logged_in")

    html = templates.get_template(name).render(
        staff=logged_in.staff if logged_in else None,
        csrf_token=logged_in.csrf_token if logged_in else context.pop("login_csrf", ""),
        clinic=knowledge().clinic, path=request.path, **context)
    return web.Response(text=html, content_type="text/html", status=status)
