"""The website chat widget in headless Chromium, on the demo clinic site.

Most tests talk to the real assistant (``assistant_servers``: trained model, Rasa and action
servers on loopback ports). The reconnection test needs no model: it starts only the
socket.io channel, after the widget has found the server unreachable.

Screenshots go to results/browser/.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from demo_browser import SITE, open_context, serve_demo
from playwright.sync_api import Page, expect

from tests.conftest import TEST_SECRETS

pytestmark = pytest.mark.browser

ANSWER_TIMEOUT = 45_000  # ms; the first answer also waits for the model to warm up
BOT = ".cc-msg-bot:not(.cc-greeting):not(.cc-typing)"
XSS = "<img src=x onerror=alert(1)>"


# ---- helpers -------------------------------------------------------------------------

def open_widget(page: Page, path: str = "/") -> None:
    page.goto(SITE + path)
    page.get_by_role("button", name=re.compile("Chat with us")).click()
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(page.get_by_label("Type your message")).to_be_focused()
    expect(page.locator(".cc-subtitle")).to_have_text("Online", timeout=ANSWER_TIMEOUT)


def settle(page: Page, selector: str, before: int) -> list[str]:
    """Wait for messages after the first ``before`` ones, until no more arrive for 1.5 s."""
    messages = page.locator(selector)
    expect(messages.nth(before)).to_be_visible(timeout=ANSWER_TIMEOUT)
    count, stable_since = messages.count(), time.monotonic()
    while time.monotonic() - stable_since < 1.5:
        page.wait_for_timeout(250)
        if messages.count() != count:
            count, stable_since = messages.count(), time.monotonic()
    return [messages.nth(i).inner_text() for i in range(before, count)]


def say(page: Page, text: str) -> list[str]:
    """Type a message, press Enter, return the texts of the assistant's answer."""
    before = page.locator(BOT).count()
    users = page.locator(".cc-msg-user").count()
    box = page.get_by_label("Type your message")
    box.fill(text)
    box.press("Enter")
    expect(page.locator(".cc-msg-user")).to_have_count(users + 1)
    expect(box).to_have_value("")
    return settle(page, BOT, before)


def session_id(page: Page) -> str:
    return page.evaluate("""() => {
        const key = Object.keys(localStorage).find((k) => k.startsWith("clinic-chat:v1:"));
        return key ? JSON.parse(localStorage.getItem(key)).sessionId : null;
    }""")


def shadow_count(page: Page, selector: str) -> int:
    return page.evaluate(
        "(s) => document.getElementById('clinic-chat').shadowRoot.querySelectorAll(s).length",
        selector)


def focused(page: Page) -> dict:
    """What has the keyboard focus, looking inside the widget's shadow root."""
    return page.evaluate("""() => {
        let el = document.activeElement;
        while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
        const style = el ? getComputedStyle(el) : null;
        return el ? {tag: el.tagName, cls: el.className || "", text: el.innerText || "",
                     outline: style.outlineStyle, outlineWidth: parseFloat(style.outlineWidth)}
                  : {};
    }""")


# ---- with the real assistant -----------------------------------------------------------

def test_conversation_with_citation_quick_reply_history_and_start_over(visit, screenshots):
    page = visit.page
    open_widget(page)
    page.screenshot(path=str(screenshots / "01-open.png"))

    question = "can microneedling help acne scars?"
    answer = " ".join(say(page, question))
    assert "Majid, 2014" in answer
    page.screenshot(path=str(screenshots / "02-cited-answer.png"))

    # The answer offers follow-up buttons: clicking one sends it and shows its title.
    groups = page.locator(".cc-msg-bot .cc-replies")
    group = groups.nth(groups.count() - 1)  # fixed now: later answers bring their own
    choice = group.locator(".cc-reply").first
    expect(choice).to_be_enabled()
    title = choice.inner_text()
    before = page.locator(BOT).count()
    choice.click()
    expect(page.locator(".cc-msg-user .cc-bubble").last).to_have_text(title)
    for button in group.locator(".cc-reply").all():
        expect(button).to_be_disabled()
    follow_up = settle(page, BOT, before)
    assert follow_up and all(text.strip() for text in follow_up)
    page.screenshot(path=str(screenshots / "03-quick-reply.png"))
    session = session_id(page)
    assert session and re.fullmatch(r"[0-9a-f]{32}", session)

    # A reload keeps the conversation: same session, same history, panel still open.
    history = page.locator(".cc-messages").text_content()
    page.reload()
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(page.locator(".cc-messages")).to_have_text(history)
    assert session_id(page) == session
    expect(page.locator(".cc-msg-user", has_text=question)).to_have_count(1)
    expect(page.locator(".cc-msg-user", has_text=title)).to_have_count(1)
    for button in group.locator(".cc-reply").all():
        expect(button).to_be_disabled()  # still used after the reload
    page.screenshot(path=str(screenshots / "04-after-reload.png"))

    # Another page of the site: the same conversation, and it goes on.
    page.get_by_role("link", name="About the clinic").click()
    expect(page).to_have_url(SITE + "/about.html")
    expect(page.locator(".cc-messages")).to_have_text(history)
    expect(page.locator(".cc-subtitle")).to_have_text("Online", timeout=ANSWER_TIMEOUT)
    assert say(page, "what is microneedling?")
    assert session_id(page) == session
    page.screenshot(path=str(screenshots / "05-other-page.png"))

    # Start over: a new session, no history, and the new conversation works.
    page.get_by_role("button", name="Start over").click()
    expect(page.locator(".cc-msg-user")).to_have_count(0)
    expect(page.locator(BOT)).to_have_count(0)
    assert session_id(page) not in (None, session)
    expect(page.locator(".cc-subtitle")).to_have_text("Online")
    assert " ".join(say(page, question)).count("Majid, 2014") >= 1
    assert visit.errors == []


def test_an_answer_that_arrives_while_the_page_is_away_is_shown_on_return(visit):
    # The answer reached no page (Rasa's channel replays nothing): the person saw their
    # "no" unanswered and never saw question 2, which their next "no" then answered.
    page = visit.page
    open_widget(page)
    assert any("Question 1 of" in t for t in say(page, "am I a good candidate?"))
    box = page.get_by_label("Type your message")
    box.fill("no")
    box.press("Enter")
    expect(page.locator(".cc-msg-user")).to_have_count(2)
    page.goto("about:blank")  # away before the answer comes
    page.wait_for_timeout(3000)
    page.goto(SITE + "/")  # back: the panel is still open
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(page.locator(".cc-subtitle")).to_have_text("Online", timeout=ANSWER_TIMEOUT)
    expect(page.locator(BOT, has_text="Question 2 of")).to_have_count(1, timeout=ANSWER_TIMEOUT)
    expect(page.locator(BOT, has_text="Got it: no.")).to_have_count(1)
    page.reload()  # answered now: nothing is sent again
    expect(page.locator(".cc-subtitle")).to_have_text("Online", timeout=ANSWER_TIMEOUT)
    page.wait_for_timeout(2000)
    expect(page.locator(BOT, has_text="Question 2 of")).to_have_count(1)


def test_markup_is_shown_as_text_and_never_runs(visit, screenshots):
    page = visit.page
    open_widget(page)
    images_before = page.evaluate("document.querySelectorAll('img').length")

    say(page, XSS)
    bubble = page.locator(".cc-msg-user .cc-bubble").last
    expect(bubble).to_have_text(XSS)
    assert bubble.evaluate("(el) => el.children.length") == 0  # one text node, no elements
    assert shadow_count(page, "img") == 0
    assert page.evaluate("document.querySelectorAll('img').length") == images_before

    # Only http(s) links become links; anything else stays text.
    text = "see [this](javascript:alert(2)) or https://example.org/page."
    say(page, text)
    bubble = page.locator(".cc-msg-user .cc-bubble").last
    expect(bubble).to_contain_text("[this](javascript:alert(2))")
    links = bubble.locator("a")
    expect(links).to_have_count(1)
    expect(links).to_have_attribute("href", "https://example.org/page")
    expect(links).to_have_attribute("target", "_blank")
    expect(links).to_have_attribute("rel", "noopener noreferrer")
    assert shadow_count(page, "a[href^='javascript']") == 0

    page.wait_for_timeout(500)
    assert visit.dialogs == []  # no alert() ran
    page.screenshot(path=str(screenshots / "06-markup-as-text.png"))


def test_keyboard_only(visit, screenshots):
    page = visit.page
    page.goto(SITE + "/")
    for _ in range(40):  # Tab through the page to the launcher
        page.keyboard.press("Tab")
        if "cc-launcher" in focused(page).get("cls", ""):
            break
    else:
        pytest.fail("the chat launcher cannot be reached with Tab")
    launcher = focused(page)
    assert launcher["outline"] != "none" and launcher["outlineWidth"] >= 2  # visible focus

    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_be_visible()
    assert focused(page)["tag"] == "INPUT"
    expect(page.locator(".cc-subtitle")).to_have_text("Online", timeout=ANSWER_TIMEOUT)
    before = page.locator(BOT).count()
    page.keyboard.type("can microneedling help acne scars?")
    page.keyboard.press("Enter")
    settle(page, BOT, before)

    # Screen readers: the answer is put in the polite live region.
    live = page.locator(".cc-live")
    expect(live).to_have_attribute("aria-live", "polite")
    expect(live).to_contain_text("Majid, 2014")

    # Shift+Tab from the message box reaches the answer's buttons; Enter chooses one.
    page.keyboard.press("Shift+Tab")
    reply = focused(page)
    assert "cc-reply" in reply["cls"], reply
    assert reply["outline"] != "none" and reply["outlineWidth"] >= 2
    page.screenshot(path=str(screenshots / "07-keyboard-focus.png"))
    before = page.locator(BOT).count()
    page.keyboard.press("Enter")
    expect(page.locator(".cc-msg-user .cc-bubble").last).to_have_text(reply["text"])
    settle(page, BOT, before)
    assert focused(page)["tag"] == "INPUT"

    # Esc closes the panel and gives the focus back to the launcher.
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    assert "cc-launcher" in focused(page)["cls"]
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_be_visible()


def _contrast_report(page: Page) -> list[dict]:
    """WCAG contrast of the widget's text against its actual background colours."""
    return page.evaluate("""() => {
        const root = document.getElementById('clinic-chat').shadowRoot;
        const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
        const lum = (c) => {
            const [r, g, b] = rgb(c).map((v) => { v /= 255;
                return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
            return 0.2126 * r + 0.7152 * g + 0.0722 * b;
        };
        const background = (el) => {
            for (; el; el = el.parentElement || (el.getRootNode() && el.getRootNode().host)) {
                const c = getComputedStyle(el).backgroundColor;
                if (c && !/rgba\\(.*,\\s*0\\)$/.test(c) && c !== 'transparent') return c;
            }
            return 'rgb(255, 255, 255)';
        };
        const selectors = ['.cc-title', '.cc-subtitle', '.cc-msg-bot .cc-bubble',
                           '.cc-msg-user .cc-bubble', '.cc-reply:not(:disabled)', '.cc-input',
                           '.cc-footer', '.cc-bubble a', '.cc-launcher', '.cc-source'];
        const out = [];
        for (const s of selectors) {
            for (const el of root.querySelectorAll(s)) {
                const fg = getComputedStyle(el).color, bg = background(el);
                const [a, b] = [lum(fg), lum(bg)];
                out.push({selector: s, fg, bg,
                          ratio: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)});
            }
        }
        return out;
    }""")


def test_phone_layout(browser, demo_site, screenshots):
    width, height = 375, 667
    phone = open_context(browser, demo_site, viewport={"width": width, "height": height},
                         is_mobile=True, has_touch=True, device_scale_factor=2)
    try:
        page = phone.page
        page.goto(SITE + "/")
        launcher = page.get_by_role("button", name=re.compile("Chat with us")).bounding_box()
        assert launcher["x"] >= 0 and launcher["x"] + launcher["width"] <= width
        page.screenshot(path=str(screenshots / "08-phone-page.png"))

        open_widget(page)
        panel = page.get_by_role("dialog").bounding_box()
        assert (panel["x"], panel["y"]) == (0, 0)
        assert (panel["width"], panel["height"]) == (width, height)  # full screen
        controls = {"message box": page.get_by_label("Type your message"),
                    "send": page.get_by_role("button", name="Send message"),
                    "close": page.get_by_role("button", name="Close chat"),
                    "start over": page.get_by_role("button", name="Start over")}
        for name, control in controls.items():
            box = control.bounding_box()
            assert box and 0 <= box["x"] and box["x"] + box["width"] <= width, name
            assert 0 <= box["y"] and box["y"] + box["height"] <= height, name

        # Full screen, the panel is modal: Tab cycles inside it, never into the hidden page.
        assert page.get_by_role("dialog").get_attribute("aria-modal") == "true"
        for _ in range(12):
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.id") == "clinic-chat"

        answer = say(page, "can microneedling help acne scars?")
        assert "Majid, 2014" in " ".join(answer)
        say(page, "x" * 300)  # one unbreakable word must wrap, not scroll sideways
        no_sideways = page.evaluate("""() => {
            const root = document.getElementById('clinic-chat').shadowRoot;
            const log = root.querySelector('.cc-messages');
            return {page: document.documentElement.scrollWidth, log: log.scrollWidth,
                    logClient: log.clientWidth};
        }""")
        assert no_sideways["page"] <= width
        assert no_sideways["log"] <= no_sideways["logClient"]
        for item in _contrast_report(page):
            assert item["ratio"] >= 4.5, item  # WCAG AA for normal-size text
        page.screenshot(path=str(screenshots / "09-phone-chat.png"))
        page.get_by_label("Close chat").click()
        expect(page.get_by_role("dialog")).to_be_hidden()
        assert phone.errors == []
    finally:
        phone.context.close()


# ---- without the assistant ------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_server_is_reported_and_the_widget_reconnects(browser, screenshots):
    port = _free_port()
    demo_url, stop_demo = serve_demo(f"http://127.0.0.1:{port}")
    current = open_context(browser, demo_url, viewport={"width": 1280, "height": 800})
    server = None
    try:
        page = current.page
        page.goto(SITE + "/")
        page.get_by_role("button", name=re.compile("Chat with us")).click()
        banner = page.get_by_role("alert")
        expect(banner).to_contain_text("can't reach the assistant", timeout=20_000)
        expect(page.locator(".cc-subtitle")).to_have_text("Offline")

        box = page.get_by_label("Type your message")
        box.fill("hello?")
        box.press("Enter")
        expect(page.locator(".cc-notice")).to_contain_text("Not sent")
        expect(box).to_have_value("hello?")  # kept for when the server is back
        expect(page.locator(".cc-msg-user")).to_have_count(0)
        page.screenshot(path=str(screenshots / "10-unreachable.png"))

        # The server comes up: the widget reconnects by itself, within its back-off.
        env = {**os.environ, "CLINIC_ALLOWED_ORIGINS": SITE,
               "CLINIC_SESSION_SECRET": TEST_SECRETS["CLINIC_SESSION_SECRET"],
               "CLINIC_SECRETS_FILE": "/nonexistent"}
        server = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("channel_server.py")), str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        expect(page.locator(".cc-subtitle")).to_have_text("Online", timeout=90_000)
        expect(banner).to_be_hidden()
        box.press("Enter")
        expect(page.locator(".cc-msg-user .cc-bubble")).to_have_text("hello?")
        expect(page.locator(BOT + " .cc-bubble")).to_have_text("heard: hello?", timeout=10_000)
        expect(page.locator(".cc-live")).to_contain_text("heard: hello?")
    finally:
        current.context.close()
        stop_demo()
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
