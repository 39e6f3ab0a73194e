"""The staff console's web app (aiohttp, server-rendered, Jinja2 with autoescaping).

Pages: ``/login``, ``/`` (inbox), ``/c/<ref>`` (a conversation), ``/insights``,
``/audit``. Conversations are addressed by opaque refs, never by sender id (an SMS
conversation's sender id is the patient's phone number). Every response carries a strict
Content-Security-Policy (scripts and styles from this origin only), ``no-store`` caching
and no referrer outside the console.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import re
import secrets
from collections import OrderedDict
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from clinic.cli.output import spreadsheet_safe
from clinic.config.hosts import host_allowed
from clinic.config.settings import settings
from clinic.console import accounts, inbox, insights, security, takeover
from clinic.console.charts import daily_bars, horizontal_bars
from clinic.console.pages import local, render, templates
from clinic.console.throttle import LoginThrottle
from clinic.services import inbox_store
from clinic.store.rasa_events import load_events

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
MAX_BODY = 64 * 1024
POLL_MS = 2000
LOGIN_IP_LIMIT = 20  # failed log-ins per address per 15 minutes, across accounts
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
PUBLIC_PATHS = ("/login", "/health", "/static/", "/favicon.ico")
PURGE = web.AppKey("purge", object)

# --------------------------------------------------------------------------- middleware

@web.middleware
async def headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as error:
        response = error
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    # same-origin, not no-referrer: with no-referrer browsers send "Origin: null" on the
    # console's own form posts, which the origin check must refuse.
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    if not request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"
    if isinstance(response, web.HTTPException):
        raise response
    return response


def _same_origin(request: web.Request) -> bool:
    """A POST must come from the console's own pages: a browser's ``Origin`` is this host
    (or ``console_public_url``); "null" is refused, no Origin (not a browser) is let through
    to the CSRF check."""
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return origin is None

    public = settings().console_public_url.rstrip("/")
    if public and origin.rstrip("/").lower() == "/".join(public.split("/")[:3]).lower():
        return True  # behind a TLS proxy that may rewrite Host
    host = origin.split("://", 1)[-1]
    return host == request.host


async def _form(request: web.Request) -> Any:
    """The posted form; 400 for a body that is not a form (invalid UTF-8, broken
    encoding) instead of a server error."""
    try:
        return await request.post()
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise web.HTTPBadRequest(text="The form could not be read.") from None


@web.middleware
async def guard_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Before anything is read: an unknown ``Host`` (DNS rebinding) gets 421, a compressed
    body 415 (it would be inflated before the size limit applies)."""
    if not host_allowed(request.headers.get("Host"), settings().host_names):
        return web.Response(text="Unknown host.", status=421)
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        return web.Response(text="Compressed request bodies are not accepted.", status=415)
    return await handler(request)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method == "POST" and not _same_origin(request):
        return web.Response(text="Refused: this form was not sent from the console.",
                            status=403)
    public = any(request.path == p or (p.endswith("/") and request.path.startswith(p))
                 for p in PUBLIC_PATHS)
    logged_in = await asyncio.to_thread(
        security.load_session, request.cookies.get(security.SESSION_COOKIE))
    request["logged_in"] = logged_in
    if logged_in is None and not public:
        if request.path.endswith("/events") or request.headers.get("Accept") == "application/json":
            return web.json_response({"error": "log in again"}, status=401)
        raise web.HTTPSeeOther("/login")
    if request.method == "POST" and logged_in is not None and request.path != "/login":
        form = await _form(request)
        if not security.tokens_match(logged_in.csrf_token, str(form.get("csrf_token", ""))):
            log.warning("Refused a console form without a valid CSRF token.")
            return render(request, "error.html", status=403,
                          message="This form has expired or was not sent from the console. "
                                  "Go back, reload the page and try again.")
    return await handler(request)


# --------------------------------------------------------------------------- log-in

def _cookie(response: web.StreamResponse, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True,
                        samesite="Strict", secure=security.secure_cookies())


async def login_page(request: web.Request) -> web.StreamResponse:
    if request.get("logged_in"):
        raise web.HTTPSeeOther("/")
    return _login_form(request)


def _login_form(request: web.Request, message: str = "", status: int = 200,
                email: str = "") -> web.Response:
    # The same token for every log-in page of this browser: several tabs (or a redirected
    # favicon request) must not invalidate each other's form.
    current = request.cookies.get(security.LOGIN_CSRF_COOKIE, "")
    token = current if re.fullmatch(r"[A-Za-z0-9_-]{40,60}", current) else security.new_token()
    response = render(request, "login.html", status=status, login_csrf=token, message=message,
                      email=email)
    _cookie(response, security.LOGIN_CSRF_COOKIE, token, 3600)
    return response



THROTTLE = web.AppKey("throttle", LoginThrottle)
TOO_MANY = "Too many failed log-ins for this address from here. Try again in {minutes} minutes."

async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    if not security.tokens_match(request.cookies.get(security.LOGIN_CSRF_COOKIE),
                                 str(form.get("csrf_token", ""))):
        return _login_form(request, "The form expired. Please try again.", status=403)
    email = str(form.get("email", ""))[:254]
    key = accounts.normalise_email(email)
    address = request.remote or ""
    throttle: LoginThrottle = request.app[THROTTLE]
    minutes = int(settings().console_lockout_minutes)
    # Counted before the password is checked, in one step of the event loop: a burst of
    # simultaneous attempts cannot slip past the limit (clinic/console/throttle.py).
    mark = throttle.reserve(address, key)
    if mark is None:
        return _login_form(request, TOO_MANY.format(minutes=minutes), status=429, email=email)
    result = await asyncio.to_thread(accounts.authenticate, email,
                                     str(form.get("password", ""))[:1024])
    if result.staff is None:
        # Each failure from here for this address answers a little later (at most 3 s).
        await asyncio.sleep(min(0.25 * throttle.failures(address, key), 3.0))
        # A locked account answers exactly like a throttled unknown address.
        message = (TOO_MANY.format(minutes=minutes) if result.locked
                   else "Wrong e-mail address or password.")
        return _login_form(request, message, status=429 if result.locked else 401, email=email)
    throttle.succeeded(address, key, mark)
    token, _ = await asyncio.to_thread(security.start_session, result.staff)
    response = web.HTTPSeeOther("/")

    _cookie(response, security.SESSION_COOKIE, token,
            int(settings().console_session_hours * 3600))
    response.del_cookie(security.LOGIN_CSRF_COOKIE, path="/")
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    logged_in: security.LoggedIn = request["logged_in"]
    await asyncio.to_thread(security.end_session, logged_in.token_hash)
    await asyncio.to_thread(security.audit, logged_in.staff, "logout")
    response = web.HTTPSeeOther("/login")
    response.del_cookie(security.SESSION_COOKIE, path="/")
    raise response


# --------------------------------------------------------------------------- inbox

async def inbox_page(request: web.Request) -> web.Response:
    view = request.query.get("view", "needs")
    view = view if view in inbox.FILTERS else "needs"
    logged_in: security.LoggedIn = request["logged_in"]

    def load() -> dict[str, Any]:
        held = takeover.taken_over()
        rows = inbox.list_conversations(view, limit=50, taken_over=held)
        inbox.annotate(rows)
        calls = inbox_store.callbacks()
        refs = security.refs_for([r.sender_id for r in rows] + [c.sender_id for c in calls])
        # The rows preview patients' messages and call backs their numbers: which ones this
        # person saw is audited.
        shown = [refs[r.sender_id] for r in rows if r.sender_id in refs]
        shown += [refs[c.sender_id] for c in calls if c.sender_id in refs]
        security.audit(logged_in.staff, "view", None,
                       f"inbox {view}: {len(shown)} conversations {' '.join(shown)}")
        return {"rows": rows, "refs": refs, "calls": calls, "team": accounts.list_staff()}

    data = await asyncio.to_thread(load)
    return render(request, "inbox.html", view=view, spoken_number=inbox.spoken_number,
                  channel_label=inbox.channel_label,
                  views=[("needs", "Needs a person"), ("recent", "All recent"),
                         ("widget", "Widget"), ("sms", "SMS")], **data)


def _sender(request: web.Request) -> tuple[str, str]:
    ref = request.match_info["ref"]
    sender_id = security.sender_for(ref)
    if sender_id is None:
        raise web.HTTPNotFound(text="No such conversation.")
    return ref, sender_id


async def conversation_page(request: web.Request) -> web.Response:
    logged_in: security.LoggedIn = request["logged_in"]

    def load() -> dict[str, Any]:
        ref, sender_id = _sender(request)
        events = load_events([sender_id])[sender_id]
        security.audit(logged_in.staff, "view", ref)
        summary = inbox.summarise(sender_id, events)
        inbox.annotate([summary])
        return {
            "ref": ref, "summary": summary, "team": accounts.list_staff(),
            "calls": inbox_store.callbacks(sender_id),
            "lines": inbox.transcript(events),
            "last_id": events[-1].id if events else 0,
            "screening": inbox.screening_summary(events),
            "bookings": inbox.bookings_of(sender_id),
            "holder": takeover.holder(sender_id),
            "audit": security.recent_audit(20, ref),
            "sms_problem": (takeover.sms_allowed(sender_id)
                            if inbox.channel_of(events) == takeover.SMS else None),
        }

    context = await asyncio.to_thread(load)
    context["presence_text"] = presence_text(context["summary"].presence,
                                             context["summary"].channel)
    return render(request, "conversation.html", poll_ms=POLL_MS,
                  notice=request.query.get("notice", ""), nonce=secrets.token_hex(8),
                  **context)


async def conversation_events(request: web.Request) -> web.Response:
    """New transcript lines after ``?after=<event id>`` and who holds the conversation (JSON,
    polled by the page while it is open)."""
    try:
        # Within SQLite's 64-bit integers: a larger id raised OverflowError (a 500).
        after = min(max(int(request.query.get("after", "0")), 0), 2**63 - 1)
    except ValueError:
        after = 0

    logged_in: security.LoggedIn = request["logged_in"]

    def load() -> dict[str, Any]:
        ref, sender_id = _sender(request)
        events = load_events([sender_id], after_id=after)[sender_id]
        current = takeover.holder(sender_id)
        lines = inbox.transcript(events)
        if lines:
            # Polls that bring no new text are not audited (every 2 s while a page is open).
            security.audit(logged_in.staff, "view", ref,
                           f"{len(lines)} new lines after event {after}")
        seen = inbox_store.presence([sender_id]).get(sender_id)
        return {
            "presence": presence_text(seen, takeover.WIDGET if seen else ""),
            "online": bool(seen and seen.connected),
            "lines": [{"id": line.id, "who": line.who, "text": line.text,
                       "staff": line.staff_name, "at": local(line.at, "%H:%M")}
                      for line in lines],
            "last_id": events[-1].id if events else after,
            "holder": current.label if current else "",
            "holder_id": current.staff_id if current else 0,
        }

    return web.json_response(await asyncio.to_thread(load))


def presence_text(seen: inbox_store.Presence | None, channel: str) -> str:
    """Whether the patient's chat is open now, and when it was last seen (widget only)."""
    if seen is not None and seen.connected:
        return "The patient's chat is open now."
    if seen is not None:
        return f"The patient's chat is closed; last seen {local(seen.last_seen)}."
    return "The patient's chat is closed." if channel == takeover.WIDGET else ""


NONCES: OrderedDict[str, None] = OrderedDict()


def _once(nonce: str) -> bool:
    """False if this form was already submitted (a double click must not text twice)."""
    if not nonce:
        return True
    if nonce in NONCES:
        return False
    NONCES[nonce] = None
    while len(NONCES) > 5000:
        NONCES.popitem(last=False)
    return True


async def _act(request: web.Request, action: str) -> web.StreamResponse:
    logged_in: security.LoggedIn = request["logged_in"]
    ref, sender_id = await asyncio.to_thread(_sender, request)
    form = await _form(request)
    notice = ""
    try:
        if action == "take_over":
            events = (await asyncio.to_thread(load_events, [sender_id]))[sender_id]
            channel = inbox.channel_of(events) or "rest"
            await takeover.take_over(logged_in.staff, sender_id, channel)
            notice = "You have taken over. The assistant is paused for this conversation."
        elif action == "reply":
            if not _once(str(form.get("nonce", ""))):
                raise web.HTTPSeeOther(f"/c/{ref}")
            outcome = await takeover.reply(logged_in.staff, sender_id, str(form.get("text", "")))
            notice = ("Sent." if outcome == "sent" else
                      "Recorded in the local outbox (Twilio is not configured): not sent.")
        elif action == "hand_back":
            await takeover.hand_back(logged_in.staff, sender_id)
            notice = "Handed back to the assistant."
        elif action == "handled":
            await takeover.mark_handled(logged_in.staff, sender_id)
            notice = "Marked handled. Nothing was sent to the patient."
        elif action == "assign":
            notice = await _assign(sender_id, str(form.get("staff_id", "")))
        await asyncio.to_thread(security.audit, logged_in.staff, action, ref)
    except takeover.TakeoverError as error:
        notice = f"Not done: {error}."
    if request.headers.get("Accept") == "application/json":
        return web.json_response({"notice": notice})
    raise web.HTTPSeeOther(f"/c/{ref}?notice={_notice_code(notice)}")


_NOTICES: dict[str, str] = {}


def _notice_code(text: str) -> str:
    """Notices travel as short codes (never free text in a URL)."""
    code = secrets.token_hex(4)
    _NOTICES[code] = text
    while len(_NOTICES) > 1000:
        _NOTICES.pop(next(iter(_NOTICES)))
    return code


async def _assign(sender_id: str, staff_id: str) -> str:
    """Give a conversation (and its open callback requests) to a member of staff."""
    team = {str(member.id): member for member in await asyncio.to_thread(accounts.list_staff)
            if member.active}
    if staff_id and staff_id not in team:
        raise takeover.TakeoverError("no such member of staff")
    member = team.get(staff_id)

    def store() -> None:
        inbox_store.assign(sender_id, member.id if member else None)
        for item in inbox_store.callbacks(sender_id):
            inbox_store.assign_callback(item.id, member.id if member else None)

    await asyncio.to_thread(store)
    return f"Assigned to {member.label}." if member else "No longer assigned."


async def callback_handled(request: web.Request) -> web.StreamResponse:
    """A callback request was dealt with (the call made): it leaves the inbox, and so does
    its conversation unless someone holds it."""
    logged_in: security.LoggedIn = request["logged_in"]
    try:
        callback_id = int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound(text="No such callback request.") from None
    sender_id = await asyncio.to_thread(inbox_store.callback_sender, callback_id)
    if sender_id is None:
        raise web.HTTPNotFound(text="No such callback request.")
    await asyncio.to_thread(inbox_store.mark_callback_handled, callback_id, logged_in.staff.id)
    ref = (await asyncio.to_thread(security.refs_for, [sender_id]))[sender_id]
    if await asyncio.to_thread(takeover.holder, sender_id) is None:
        try:
            await takeover.mark_handled(logged_in.staff, sender_id)
        except takeover.TakeoverError as error:
            log.info("A handled callback's conversation stays in the inbox: %s", error)
    await asyncio.to_thread(security.audit, logged_in.staff, "handled", ref, "call back")
    raise web.HTTPSeeOther("/")


async def take_over_view(request: web.Request) -> web.StreamResponse:
    return await _act(request, "take_over")


async def reply_view(request: web.Request) -> web.StreamResponse:
    return await _act(request, "reply")


async def hand_back_view(request: web.Request) -> web.StreamResponse:
    return await _act(request, "hand_back")


async def handled_view(request: web.Request) -> web.StreamResponse:
    return await _act(request, "handled")


async def assign_view(request: web.Request) -> web.StreamResponse:
    return await _act(request, "assign")


# --------------------------------------------------------------------------- insights

def _period(request: web.Request) -> insights.DateRange:
    return insights.DateRange.parse(request.query.get("from"), request.query.get("to"))


def _visit_funnel(period: insights.DateRange) -> list[tuple[str, int | str]]:
    from clinic.services.appointments import visit_funnel  # the calendar's visits (issue 20)

    return visit_funnel(*period.bounds())


async def insights_page(request: web.Request) -> web.Response:
    period = _period(request)
    logged_in: security.LoggedIn = request["logged_in"]

    def load() -> dict[str, Any]:
        days = insights.per_day(period)
        questions = insights.unanswered(period)
        # The page quotes patients' unanswered questions.
        security.audit(logged_in.staff, "view", None,
                       f"insights {period.start}..{period.end}: {min(len(questions), 50)} questions")
        funnel = insights.funnel(period)
        return {"days": days, "questions": questions[:50], "question_total": len(questions),
                "funnel": funnel, "bookings": insights.bookings(period),
                "sms": insights.sms_followups(period),
                "visits": _visit_funnel(period)}

    data = await asyncio.to_thread(load)
    labels = [d.day.strftime("%m-%d") for d in data["days"]]
    daily_chart = daily_bars("Conversations and patient messages per day", labels, [
        ("Conversations", [d.conversations for d in data["days"]]),
        ("Patient messages", [d.messages for d in data["days"]])])
    funnel_chart = horizontal_bars("Screening funnel", data["funnel"].rows())
    question_chart = horizontal_bars("Most frequent unanswered questions",
                                     [(q.example, q.count) for q in data["questions"][:10]])
    return render(request, "insights.html", period=period, daily_chart=daily_chart,
                  funnel_chart=funnel_chart, question_chart=question_chart,
                  query=f"from={period.start.isoformat()}&to={period.end.isoformat()}", **data)


async def question_page(request: web.Request) -> web.Response:
    period = _period(request)

    logged_in: security.LoggedIn = request["logged_in"]

    def load() -> tuple[insights.QuestionGroup | None, dict[str, str]]:
        group = insights.conversations_of_group(period, request.match_info["group"])
        refs = security.refs_for(group.sender_ids if group else [])
        if group is not None:
            security.audit(logged_in.staff, "view", None,
                           f"question group {request.match_info['group'][:40]} "
                           f"{period.start}..{period.end}: {len(refs)} conversations")
        return group, refs

    group, refs = await asyncio.to_thread(load)
    if group is None:
        raise web.HTTPNotFound(text="No such question in this date range.")
    return render(request, "question.html", group=group, refs=refs, period=period,
                  query=f"from={period.start.isoformat()}&to={period.end.isoformat()}")


EXPORTS = ("daily", "questions", "funnel", "bookings", "sms")


async def export_csv(request: web.Request) -> web.StreamResponse:
    table = request.match_info["table"]
    if table not in EXPORTS:
        raise web.HTTPNotFound(text="No such table.")
    period = _period(request)
    logged_in: security.LoggedIn = request["logged_in"]

    def rows() -> tuple[list[str], list[list[Any]]]:
        if table == "daily":
            return ["day", "conversations", "patient_messages"], [
                [d.day.isoformat(), d.conversations, d.messages] for d in insights.per_day(period)]
        if table == "questions":
            return ["question", "count", "conversations", "kind"], [
                [q.example, q.count, len(q.sender_ids), q.kind]
                for q in insights.unanswered(period)]
        if table == "funnel":
            return ["step", "conversations"], [list(r) for r in insights.funnel(period).rows()]
        if table == "bookings":
            return ["measure", "count"], [list(r) for r in insights.bookings(period)]
        return ["measure", "count"], [list(r) for r in insights.sms_followups(period)]

    header, data = await asyncio.to_thread(rows)
    await asyncio.to_thread(security.audit, logged_in.staff, "export", None,
                            f"{table} {period.start}..{period.end}")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in data:
        writer.writerow([spreadsheet_safe(cell) for cell in row])
    filename = f"{table}-{period.start}-{period.end}.csv"
    return web.Response(text=buffer.getvalue(), content_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{filename}"'})


# --------------------------------------------------------------------------- audit

async def audit_page(request: web.Request) -> web.Response:
    entries = await asyncio.to_thread(security.recent_audit, 300)

    return render(request, "audit.html", entries=entries,
                  retention=int(settings().audit_retention_days))


async def favicon(_: web.Request) -> web.Response:
    raise web.HTTPMovedPermanently("/static/favicon.svg")


async def health(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _purge_loop(app: web.Application) -> None:
    while True:
        try:
            removed = await asyncio.to_thread(security.purge_audit)
            if removed:
                log.info("Purged %d audit entries past the retention period.", removed)
            forgotten = await asyncio.to_thread(security.purge_orphan_refs)
            if forgotten:
                log.info("Forgot %d refs of conversations no longer stored.", forgotten)
        except Exception as error:  # noqa: BLE001 - try again next hour
            log.warning("Audit purge failed: %s", type(error).__name__)
        await asyncio.sleep(3600)


async def _start_background(app: web.Application) -> None:
    app[PURGE] = asyncio.create_task(_purge_loop(app))


async def _stop_background(app: web.Application) -> None:
    app[PURGE].cancel()  # type: ignore[attr-defined]


def notice_text(code: str) -> str:
    """The notice behind a code from a redirect."""
    return _NOTICES.get(code, "")


templates.globals["notice_text"] = notice_text


def create_app() -> web.Application:
    """The console application."""
    app = web.Application(middlewares=[headers_middleware, guard_middleware, auth_middleware],
                          client_max_size=MAX_BODY)
    attempts = max(int(settings().console_lockout_attempts), 1)
    app[THROTTLE] = LoginThrottle(
        per_address_and_email=attempts, per_address=LOGIN_IP_LIMIT,
        per_email=attempts * accounts.ACCOUNT_LOCK_FACTOR,
        window_s=settings().console_lockout_minutes * 60)
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login_submit)
    app.router.add_post("/logout", logout)
    app.router.add_get("/", inbox_page)
    app.router.add_get("/c/{ref}", conversation_page)
    app.router.add_get("/c/{ref}/events", conversation_events)
    app.router.add_post("/c/{ref}/take-over", take_over_view)
    app.router.add_post("/c/{ref}/reply", reply_view)
    app.router.add_post("/c/{ref}/hand-back", hand_back_view)
    app.router.add_post("/c/{ref}/handled", handled_view)
    app.router.add_post("/c/{ref}/assign", assign_view)
    app.router.add_post("/callbacks/{id}/handled", callback_handled)
    app.router.add_get("/insights", insights_page)
    app.router.add_get("/insights/questions/{group}", question_page)
    app.router.add_get("/insights/export/{table}.csv", export_csv)
    app.router.add_get("/audit", audit_page)
    from clinic.console import visits_page  # the calendar's visits (issue 20)

    visits_page.register(app, render)
    app.router.add_get("/health", health)
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_static("/static/", HERE / "static", show_index=False)
    # aiohttp 3.9 types its signals for an older aiosignal than the one installed.
    app.on_startup.append(_start_background)  # type: ignore[arg-type]
    app.on_cleanup.append(_stop_background)  # type: ignore[arg-type]
    return app
