"""Whole conversations through the real Rasa and action servers over REST."""

from __future__ import annotations

import re
import uuid

import pytest

from clinic.knowledge.kb import knowledge

pytestmark = pytest.mark.integration
K = knowledge()


def sender() -> str:
    return f"it-{uuid.uuid4().hex[:10]}"


def test_acne_scar_question_gets_cited_answer(assistant_servers) -> None:
    text = assistant_servers.texts(sender(), "can microneedling help acne scars?")
    assert "Majid, 2014" in text
    assert "80%" in text


@pytest.mark.parametrize(
    "message",
    ["", "   ", "microneedling? " * 350, "😀🎉🔥", "¿Qué es el microneedling? ¿Cuánto cuesta?",
     "<img src=x onerror=alert(1)>", "<script>alert('x')</script>", "\u0000\u202e weird"],
)
def test_bad_input_gets_a_polite_reply(assistant_servers, message) -> None:
    replies = assistant_servers.chat(sender(), message)
    text = "\n".join(r.get("text", "") for r in replies)
    assert text.strip(), "every message gets an answer"
    assert "Traceback" not in text and "Exception" not in text


def test_free_text_contraindication_blocks_booking_and_promotion(assistant_servers) -> None:
    who = sender()
    text = assistant_servers.texts(who, "I'm on Accutane")
    assert K.screening.by_id("isotretinoin").explanation in text
    text = assistant_servers.texts(who, "my promo code is FACIAL50")
    assert f"${K.promotion('FACIAL50').amount_usd} off" not in text
    text = assistant_servers.texts(who, "I want to book")
    assert "can't book" in text


def test_urgent_signs_first(assistant_servers) -> None:
    text = assistant_servers.texts(sender(), "there's pus and the redness is spreading")
    assert "urgent medical care" in text


def test_eligible_person_books_and_staff_see_it(assistant_servers) -> None:
    who = sender()
    s = assistant_servers
    assert "safety questions" in s.texts(who, "I want to book")
    for _ in K.screening.contraindications:
        last = s.texts(who, "/deny")
    assert "looks suitable" in last
    assert "name" in last.lower()
    assert "mobile" in s.texts(who, "Ana Lopez").lower()
    assert "email" in s.texts(who, "(415) 555-0132").lower()
    assert "treatment" in s.texts(who, "skip").lower()
    assert "days and times" in s.texts(who, '/inform{"treatment": "facial_microneedling"}')
    assert K.clinic.sms_consent_wording in s.texts(who, "tuesday afternoons")
    summary = s.texts(who, "/affirm")
    assert "FACIAL50" in summary and "Ana Lopez" in summary
    done = s.texts(who, "/affirm")
    reference = re.search(r"reference is ([A-Z0-9-]+)", done).group(1)
    assert "FACIAL50" in done

    listed = s.run_cli("bookings", "list")
    assert listed.returncode == 0 and reference in listed.stdout
    shown = s.run_cli("bookings", "show", reference)
    assert shown.returncode == 0
    assert "eligible" in shown.stdout.lower()
    assert K.screening.contraindications[0].question in shown.stdout


def test_a_stopped_action_server_gets_try_again_and_loses_no_answer(assistant_servers) -> None:
    # Without the action server Rasa answered nothing at all (an empty reply list) and
    # recorded the turn, so the screening answer typed meanwhile was lost.
    import subprocess

    from tests.conftest import ROOT, actions_command, wait_for

    s, who = assistant_servers, sender()
    s.texts(who, "am I a good candidate?")
    assert "Question 2 of" in s.texts(who, "no")
    port = int(s.actions_url.rsplit(":", 1)[1])
    actions = s.processes[0]
    actions.terminate()
    actions.wait(timeout=20)
    try:
        for message in ("no", "what is microneedling?"):
            replies = s.chat(who, message)
            assert [m.get("text") for m in replies] == [K.clinic.unavailable_message]
    finally:
        log = s.workdir / "actions-restarted.log"
        with log.open("w") as out:
            s.processes[0] = subprocess.Popen(actions_command(port), cwd=ROOT, env=s.env,
                                              stdout=out, stderr=subprocess.STDOUT)
        wait_for(f"{s.actions_url}/health", 120, s.processes[0], log)
    assert "Question 3 of" in s.texts(who, "no")  # the question 2 answer, once, now
