"""The staff console in headless Chromium, with the real assistant and the chat widget.

A patient asks for a person in the widget; a member of staff logs in, sees the flagged
conversation, takes it over and replies; the reply arrives in the widget (a second browser
page); the patient's next message reaches the console without a reload; after the hand-back
the assistant answers again. Also: the insights page, the login wall and CSRF.

Screenshots go to results/browser/ (the README's copies are in docs/).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from test_widget import BOT, open_widget, say, session_id

from dev.bench.console_seed import Conversation, write
from tests.support.console_server import STAFF_PASSWORD, Console

pytestmark = pytest.mark.browser
STAFF_EMAIL = "anna@clinic.example"


@pytest.fixture(scope="module")
def console(staff_console) -> Console:
    """The session's console (tests/conftest.py) with this module's member of staff."""
    staff_console.add_staff(STAFF_EMAIL, "Anna")
    return staff_console


@pytest.fixture
def staff_page(browser, console) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def log_in(page: Page, console: Console) -> None:
    page.goto(console.url + "/")
    expect(page).to_have_url(console.url + "/login")
    page.get_by_label("E-mail address").fill(STAFF_EMAIL)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()


def test_take_over_reply_in_widget_live_updates_and_hand_back(visit, staff_page, console,
                                                              screenshots) -> None:
    widget = visit.page
    open_widget(widget)
    offer = " ".join(say(widget, "can I talk to someone?"))
    # In opening hours staff answer here; after them a call back is offered instead.
    assert "A member of staff can reply here" in offer or "Would you like a call back?" in offer
    assert session_id(widget)

    page = staff_page
    log_in(page, console)
    row = page.locator("table.inbox tbody tr", has_text="can I talk to someone?").first
    expect(row).to_contain_text("asked for a person")
    expect(row).to_contain_text("Widget")
    page.screenshot(path=str(screenshots / "console-inbox.png"))
    assert session_id(widget) not in page.content()  # opaque ids only
    row.get_by_role("link").click()
    expect(page.get_by_role("heading", name=re.compile("Conversation"))).to_be_visible()
    assert session_id(widget) not in page.url

    # Keyboard: Tab reaches "Take over"; Enter presses it.
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "take-over":
            break
    assert page.evaluate("document.activeElement.id") == "take-over"
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("You have taken over")
    expect(widget.locator(BOT, has_text="has joined this conversation")).to_be_visible(
        timeout=15_000)

    page.get_by_label(re.compile("Your reply")).fill("Hello, this is Anna from the clinic.")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("status")).to_contain_text("Sent")
    expect(widget.locator(BOT, has_text="Hello, this is Anna from the clinic.")).to_be_visible(
        timeout=15_000)

    # The patient answers: the assistant stays quiet, the console shows it without a reload.
    page.evaluate("window.__stillTheSamePage = true")
    bots_before = widget.locator(BOT).count()
    box = widget.get_by_label("Type your message")
    box.fill("Thanks Anna, is it painful?")
    box.press("Enter")
    expect(page.locator("#transcript li.patient", has_text="Thanks Anna, is it painful?")
           ).to_be_visible(timeout=15_000)
    assert page.evaluate("window.__stillTheSamePage") is True
    widget.wait_for_timeout(1500)
    assert widget.locator(BOT).count() == bots_before, "the assistant is paused"
    page.screenshot(path=str(screenshots / "console-conversation.png"))
    page.set_viewport_size({"width": 768, "height": 900})
    assert page.evaluate("document.documentElement.scrollWidth") <= 768
    page.screenshot(path=str(screenshots / "console-conversation-768.png"))
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_role("button", name="Hand back to the assistant").click()
    # The hand-back waits for Rasa to append the events and push the message to the widget.
    expect(page.get_by_role("status")).to_contain_text("Handed back", timeout=20_000)
    expect(widget.locator(BOT, has_text="handed you back")).to_be_visible(timeout=15_000)
    answer = " ".join(say(widget, "what is microneedling?"))
    assert "microneedling" in answer.lower() and "Anna" not in answer
    assert visit.errors == []


def test_insights_show_a_chart_and_an_unanswered_question(staff_page, console,
                                                          assistant_servers, screenshots) -> None:
    tracker_url = assistant_servers.env["CLINIC_TRACKER_STORE_URL"]
    seeded = Conversation(f"seed{int(time.time())}", start=time.time() - 120)
    seeded.turn("Do you sell gift vouchers for Mother's Day?", "nlu_fallback", "action_fallback")
    seeded.turn("gift vouchers?", "nlu_fallback", "action_fallback")
    write(tracker_url, [seeded])

    page = staff_page
    log_in(page, console)
    page.get_by_role("link", name="Insights").click()
    expect(page.get_by_role("heading", name="Insights")).to_be_visible()
    expect(page.locator("svg.chart").first).to_be_visible()
    question = page.get_by_role("link", name="Do you sell gift vouchers for Mother's Day?")
    expect(question).to_be_visible()
    page.screenshot(path=str(screenshots / "console-insights.png"), full_page=True)
    question.click()
    expect(page.get_by_role("heading", name=re.compile("gift vouchers"))).to_be_visible()
    page.get_by_role("link", name="Conversation 1").click()
    expect(page.locator("#transcript")).to_contain_text("gift vouchers?")


def test_logged_out_gets_login_page_and_forms_need_their_csrf_token(staff_page, console) -> None:
    page = staff_page
    page.goto(console.url + "/insights")
    expect(page).to_have_url(console.url + "/login")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    log_in(page, console)
    response = page.request.post(console.url + "/logout", form={"csrf_token": "wrong"})
    assert response.status == 403
    response = page.request.post(console.url + "/logout", form={})
    assert response.status == 403 and "expired" in response.text()
    page.goto(console.url + "/")
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()  # still logged in
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
