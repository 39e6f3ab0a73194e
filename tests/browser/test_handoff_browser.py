"""A hand-off that never loses a word, in headless Chromium with the real assistant, the
widget on the demo site and the staff console.

- a reload in the middle of a take-over keeps the conversation, and the staff's messages
  keep arriving, with the staff member's name;
- a reply written while the patient's tab was closed appears when they open it again;
- two tabs of the same conversation each show every message, once;
- a call back asked for in the chat shows up in the inbox with the number, and leaves it
  once marked handled;
- the console opens a conversation at its newest message.

Nothing is ever shown twice: every test checks the ids the widget keeps, and the texts.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Iterator

import pytest
from demo_browser import SITE, open_context
from playwright.sync_api import Page, expect
from test_widget import BOT, open_widget, say

from dev.bench.console_seed import Conversation, write
from tests.support.console_server import STAFF_PASSWORD, Console

pytestmark = pytest.mark.browser
STAFF_EMAIL = "mia@clinic.example"
STAFF_NAME = "Mia Chen"
STAFF = ".cc-msg-staff"
WAIT = 20_000


@pytest.fixture(scope="module")
def console(staff_console) -> Console:
    """The session's console (tests/conftest.py) with this module's member of staff."""
    staff_console.add_staff(STAFF_EMAIL, STAFF_NAME)
    return staff_console


@pytest.fixture
def staff_page(browser, console) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(console.url + "/login")
    page.get_by_label("E-mail address").fill(STAFF_EMAIL)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def patient(browser, demo_site):
    visit = open_context(browser, demo_site, viewport={"width": 1280, "height": 800})
    try:
        yield visit
    finally:
        visit.context.close()


def stored(page: Page) -> list[dict]:
    """The messages the widget keeps for the conversation (localStorage)."""
    return page.evaluate("""() => {
        const key = Object.keys(localStorage).find((k) => k.startsWith("clinic-chat:v1:http"));
        return key ? JSON.parse(localStorage.getItem(key)).messages : [];
    }""")


def assert_nothing_twice(page: Page) -> None:
    messages = stored(page)
    ids = [m["id"] for m in messages]
    assert len(ids) == len(set(ids)), ids
    shown = page.locator(".cc-msg[data-id]")
    assert shown.count() == len(messages)
    staff_texts = [m["text"] for m in messages if m["from"] == "staff"]
    assert len(staff_texts) == len(set(staff_texts)), staff_texts


def take_over(staff: Page, console: Console, patient_text: str) -> None:
    """Open the conversation whose patient wrote ``patient_text`` and take it over."""
    staff.goto(console.url + "/")
    row = staff.locator("table.inbox tbody tr", has_text=patient_text).first
    expect(row).to_contain_text("asked for a person")
    row.get_by_role("link").first.click()
    staff.get_by_role("button", name="Take over").click()
    expect(staff.get_by_role("status")).to_contain_text("You have taken over")


def staff_says(staff: Page, text: str) -> None:
    staff.get_by_label(re.compile("Your reply")).fill(text)
    staff.get_by_role("button", name="Send").click()
    expect(staff.get_by_role("status")).to_contain_text("Sent")


def test_reload_mid_take_over_and_a_reply_written_while_the_tab_was_closed(
        patient, staff_page, console, screenshots) -> None:
    widget = patient.page
    open_widget(widget)
    first = say(widget, "what is microneedling?")
    assert any("microneedling" in text.lower() for text in first)
    say(widget, "can I talk to someone please")
    take_over(staff_page, console, "can I talk to someone please")

    joined = widget.locator(STAFF, has_text="has joined this conversation")
    expect(joined).to_be_visible(timeout=WAIT)
    expect(joined.locator(".cc-author")).to_have_text("Mia")
    # The assistant's buttons no longer answer anything: a person has the conversation.
    expect(widget.locator(".cc-reply:enabled")).to_have_count(0)
    assert "mia@clinic.example" not in widget.content()  # never the staff's address

    # A reload in the middle: the history stays, the next staff message still arrives.
    widget.reload()
    expect(widget.locator(".cc-subtitle")).to_have_text("Online", timeout=WAIT)
    expect(joined).to_have_count(1)
    staff_says(staff_page, "Hi, this is Mia. How can I help?")
    expect(widget.locator(STAFF, has_text="How can I help?")).to_have_count(1, timeout=WAIT)

    # While a person holds the conversation: no typing dots, and the assistant stays quiet.
    bots = widget.locator(BOT).count()
    box = widget.get_by_label("Type your message")
    box.fill("does it hurt much?")
    box.press("Enter")
    expect(widget.locator(".cc-msg-user", has_text="does it hurt much?")).to_be_visible()
    expect(widget.locator(".cc-typing")).to_have_count(0)
    expect(staff_page.locator("#transcript li.patient", has_text="does it hurt much?")
           ).to_be_visible(timeout=WAIT)
    expect(staff_page.locator("#presence")).to_contain_text("open now")
    widget.wait_for_timeout(1500)
    assert widget.locator(BOT).count() == bots

    # The patient closes the tab; Mia answers; the console says the chat is closed.
    widget.close()
    expect(staff_page.locator("#presence")).to_contain_text("last seen", timeout=WAIT)
    staff_says(staff_page, "A little: we use numbing cream first.")

    # Back later, in a new tab: the answer is there, once, with Mia's name.
    again = patient.context.new_page()
    again.goto(SITE + "/")
    launcher = again.get_by_role("button", name=re.compile("Chat with us"))
    expect(launcher).to_contain_text("1", timeout=WAIT)  # the unread badge
    open_widget(again)
    answer = again.locator(STAFF, has_text="we use numbing cream first")
    expect(answer).to_have_count(1, timeout=WAIT)
    expect(answer.locator(".cc-author")).to_have_text("Mia")
    again.wait_for_timeout(1500)  # anything replayed twice would be here by now
    assert_nothing_twice(again)
    again.screenshot(path=str(screenshots / "widget-reply-while-away.png"))

    # Handed back: the assistant answers again, and the dots show while it thinks.
    staff_page.get_by_role("button", name="Hand back to the assistant").click()
    expect(again.locator(STAFF, has_text="handed you back")).to_be_visible(timeout=WAIT)
    reply = " ".join(say(again, "how long does it take to heal?"))
    assert reply and "Mia" not in reply
    assert_nothing_twice(again)


def test_two_tabs_each_show_every_message_once(patient, staff_page, console) -> None:
    first = patient.page
    open_widget(first)
    say(first, "can I speak with a person")
    second = patient.context.new_page()
    open_widget(second)
    expect(second.locator(".cc-msg-user", has_text="can I speak with a person")).to_have_count(1)

    take_over(staff_page, console, "can I speak with a person")
    staff_says(staff_page, "Hello from Mia, in both tabs.")
    for page in (first, second):
        expect(page.locator(STAFF, has_text="in both tabs")).to_have_count(1, timeout=WAIT)

    # What the patient types in one tab shows in the other.
    box = second.get_by_label("Type your message")
    box.fill("thanks Mia")
    box.press("Enter")
    expect(first.locator(".cc-msg-user", has_text="thanks Mia")).to_have_count(1, timeout=WAIT)
    staff_says(staff_page, "You're welcome.")
    for page in (first, second):
        expect(page.locator(STAFF, has_text="You're welcome.")).to_have_count(1, timeout=WAIT)
        page.wait_for_timeout(1000)
        assert_nothing_twice(page)


def test_a_call_back_asked_for_in_the_chat_reaches_the_inbox_and_is_handled(
        patient, staff_page, console, screenshots) -> None:
    widget = patient.page
    open_widget(widget)
    # A number of this test's own (555-0100 to 555-0199 are fictional): the console is the
    # session's, so other tests' call-backs and conversations may be in it too.
    line = f"0{random.randint(100, 199)}"
    typed = f"my number is 415 555 {line}"
    reply = " ".join(say(widget, f"I'm Sam, {typed} if someone can call me tomorrow"))
    assert f"(415) 555-{line}" in reply and "Thank you, Sam" in reply
    assert "don't need to keep this chat open" in reply
    assert "didn't" not in reply.lower()

    staff_page.goto(console.url + "/")
    calls = staff_page.locator("table.callbacks tbody tr", has_text=f"+1 415-555-{line}")
    expect(calls).to_have_count(1)
    expect(calls).to_contain_text("Sam")
    expect(calls).to_contain_text("Widget")
    row = staff_page.locator("table.inbox:not(.callbacks) tbody tr", has_text=typed)
    expect(row).to_contain_text("call back requested")
    expect(row).to_contain_text(f"Sam · +1 415-555-{line}")
    staff_page.screenshot(path=str(screenshots / "console-callback.png"), full_page=True)

    calls.get_by_role("button", name="Mark handled").click()
    expect(staff_page.get_by_role("heading", name="Inbox")).to_be_visible()
    expect(calls).to_have_count(0)
    expect(staff_page.locator("table.inbox tbody tr", has_text=typed)).to_have_count(0)
    # Nothing reached the patient.
    widget.wait_for_timeout(1000)
    assert widget.locator(STAFF).count() == 0
    assert_nothing_twice(widget)


def test_the_console_opens_a_long_conversation_at_its_newest_message(
        staff_page, console, assistant_servers) -> None:
    seeded = Conversation(f"long{int(time.time())}", start=time.time() - 600)
    for index in range(30):
        seeded.turn(f"question number {index} about gift vouchers", "nlu_fallback",
                    "action_fallback")
    write(assistant_servers.env["CLINIC_TRACKER_STORE_URL"], [seeded])
    staff_page.goto(console.url + "/")
    staff_page.locator("table.inbox tbody tr", has_text="question number 29").get_by_role(
        "link").first.click()
    transcript = staff_page.locator("#transcript")
    expect(transcript).to_contain_text("question number 29")
    position = transcript.evaluate(
        "(list) => [list.scrollHeight, list.clientHeight, list.scrollTop]")
    height, visible, top = position
    assert height > visible * 1.5, "the conversation is longer than the box"
    assert height - visible - top < 40, position
    expect(staff_page.locator("#transcript li", has_text="question number 29")).to_be_in_viewport()
