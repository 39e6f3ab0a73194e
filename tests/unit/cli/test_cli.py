"""The staff command-line tool: list, show, export, mark, erase, webhook deliver."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

import clinic.cli.commands as cli
from clinic.config.settings import settings
from clinic.knowledge.kb import knowledge
from clinic.rules.booking import BookingDraft
from clinic.services.booking import save_booking
from clinic.store import db
from clinic.store.models import BookingRequest, Followup

ROOT = Path(__file__).resolve().parents[3]
UTC = dt.timezone.utc


@pytest.fixture
def db_url(clinic_db):
    return clinic_db


def book(name="Ada Lovelace", phone="+14155552671", email="ada@example.com",
         treatment="facial_microneedling", consent=True,
         created=dt.datetime(2026, 3, 10, 18, 0, tzinfo=UTC)) -> str:
    kb = knowledge()
    draft = BookingDraft(
        name=name, phone_e164=phone, email=email, treatment=treatment,
        preferred_times_text="Thursday afternoon", sms_consent=consent,
        sms_consent_wording=kb.clinic.sms_consent_wording, conversation_id=f"conv-{phone}",
        channel="socketio", consent_at=created,
        screening_answers={rule.id: "no" for rule in kb.screening.contraindications})
    return save_booking(draft, kb, today=created.date(), now=created).reference


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_shows_a_table_newest_first(db_url, capsys):
    older = book(created=dt.datetime(2026, 3, 9, 17, 0, tzinfo=UTC))
    newer = book(name="Grace Hopper", phone="+12065550100", email=None,
                 treatment="scalp_microneedling",
                 created=dt.datetime(2026, 3, 10, 19, 5, tzinfo=UTC))
    code, out, err = run(capsys, "bookings", "list")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["REFERENCE", "CREATED", "NAME", "TREATMENT", "OUTCOME",
                                "PROMOTION", "STATUS"]
    assert set(lines[1]) <= {"-", " "}
    assert lines[2].startswith(newer) and "Grace Hopper" in lines[2]
    assert "2026-03-10 12:05" in lines[2]  # shown in the clinic's time zone
    amount = knowledge().promotion("FACIAL50").amount_usd
    assert lines[3].startswith(older) and f"FACIAL50 (${amount})" in lines[3]
    # aligned: every column starts at the same offset in header and rows
    status_column = lines[0].index("STATUS")
    assert lines[2][status_column:].strip() == "requested"
    assert lines[3][status_column:].strip() == "requested"


def test_list_filters_and_limits(db_url, capsys):
    first = book()
    book(name="Grace Hopper", phone="+12065550100", email=None)
    assert run(capsys, "bookings", "mark", first, "confirmed")[0] == 0
    code, out, _ = run(capsys, "bookings", "list", "--status", "confirmed")
    assert code == 0 and first in out and "Grace" not in out
    code, out, _ = run(capsys, "bookings", "list", "--limit", "1")
    assert "1 booking request(s)" in out and first not in out
    code, out, _ = run(capsys, "bookings", "list", "--status", "treated")
    assert code == 0 and "No booking requests with status treated." in out


def test_show_has_every_field_the_screening_summary_and_consent(db_url, capsys):
    reference = book()
    code, out, _ = run(capsys, "bookings", "show", reference.lower())
    assert code == 0
    kb = knowledge()
    for expected in (reference, "Ada Lovelace", "+14155552671", "ada@example.com",
                     "facial_microneedling", "Thursday afternoon",
                     f"FACIAL50 (${kb.promotion('FACIAL50').amount_usd})",
                     "socketio", "eligible", "Screening summary:",
                     kb.screening.contraindications[0].question, "GIVEN",
                     kb.clinic.sms_consent_wording):
        assert expected in out, expected


def test_show_unknown_reference_is_one_line_and_exit_1(db_url, capsys):
    code, out, err = run(capsys, "bookings", "show", "MN-XXXXXX")
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "MN-XXXXXX" in err


def test_export_writes_csv_with_every_booking(db_url, capsys, tmp_path):
    reference = book()
    book(name="+SUM(A1) Ada", phone="+12065550100", email=None)  # passes clean_name
    target = tmp_path / "out.csv"
    code, out, _ = run(capsys, "bookings", "export", "--out", str(target))
    assert code == 0 and "Exported 2" in out
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert [row["reference"] for row in rows][0] == reference
    assert rows[0]["phone_e164"] == "+14155552671" and rows[0]["promotion_code"] == "FACIAL50"
    assert rows[0]["sms_consent"] == "yes" and "Outcome" in rows[0]["screening_summary"]
    assert rows[1]["name"] == "'+SUM(A1) Ada"  # a spreadsheet won't run it as a formula
    code, out, _ = run(capsys, "bookings", "export")
    assert code == 0 and out.splitlines()[0].startswith("reference,created_at,status")


def test_mark_moves_status_and_records_times(db_url, capsys):
    reference = book()
    code, out, _ = run(capsys, "bookings", "mark", reference, "confirmed")
    assert code == 0 and f"{reference} marked confirmed" in out
    code, out, _ = run(capsys, "bookings", "mark", reference, "treated",
                       "--at", "2026-03-12T10:30")
    assert code == 0
    with db.read_scope(db_url) as session:
        booking = session.execute(select(BookingRequest)).scalar_one()
    # 10:30 clinic time (Los Angeles, daylight time) is 17:30 UTC
    assert booking.status == "treated"
    assert booking.treated_at == dt.datetime(2026, 3, 12, 17, 30, tzinfo=UTC)
    assert booking.status_changed_at == booking.treated_at


def test_mark_treated_schedules_aftercare_for_consenting_patient(db_url, capsys):
    pytest.importorskip("clinic.sms.schedule")
    reference = book()
    refused = book(name="Grace Hopper", phone="+12065550100", email=None, consent=False)
    treated_at = dt.datetime.now(UTC).replace(microsecond=0).isoformat()
    code, out, _ = run(capsys, "bookings", "mark", reference, "treated", "--at", treated_at)
    assert code == 0 and "Aftercare texts scheduled:" in out
    assert run(capsys, "bookings", "mark", refused, "treated", "--at", treated_at)[0] == 0
    with db.read_scope(db_url) as session:
        phones = set(session.execute(select(Followup.phone_e164)).scalars())
        planned = session.execute(select(Followup)).scalars().all()
    assert phones == {"+14155552671"}  # none for the patient without consent
    assert len(planned) == len(knowledge().aftercare)


@pytest.mark.parametrize("first, then, message", [
    ("treated", "cancelled", "can't be marked cancelled"),
    ("confirmed", "confirmed", "already confirmed"),
])
def test_mark_refuses_impossible_changes(db_url, capsys, first, then, message):
    reference = book()
    assert run(capsys, "bookings", "mark", reference, first)[0] == 0
    code, _, err = run(capsys, "bookings", "mark", reference, then)
    assert code == 1 and message in err


def test_mark_rejects_bad_times(db_url, capsys):
    reference = book()
    code, _, err = run(capsys, "bookings", "mark", reference, "treated", "--at", "next week")
    assert code == 1 and "ISO" in err
    future = (dt.datetime.now(UTC) + dt.timedelta(days=2)).isoformat()
    code, _, err = run(capsys, "bookings", "mark", reference, "treated", "--at", future)
    assert code == 1 and "future" in err


def test_erase_needs_confirmation_then_removes(db_url, tracker_store, capsys, monkeypatch):
    book()
    other = book(name="Grace Hopper", phone="+12065550100", email="grace@example.com")
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    code, out, err = run(capsys, "erase", "--phone", "(415) 555-2671")
    assert code == 1 and "nothing was erased" in err and "1 booking request(s)" in out
    code, out, _ = run(capsys, "erase", "--email", "ADA@example.com", "--yes")
    assert code == 0 and "booking requests:      1" in out
    code, out, _ = run(capsys, "bookings", "list")
    assert other in out and "Ada" not in out
    code, _, err = run(capsys, "erase", "--phone", "+14155552671", "--yes")
    assert code == 1 and "nothing stored" in err


def test_erase_removes_rasa_conversations(db_url, capsys, tmp_path):
    book()
    engine = create_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE events (id INTEGER PRIMARY KEY, "
                                   "sender_id VARCHAR(255) NOT NULL, type_name VARCHAR(255), "
                                   "timestamp FLOAT, intent_name VARCHAR(255), "
                                   "action_name VARCHAR(255), data TEXT)")
        connection.exec_driver_sql("INSERT INTO events (sender_id, type_name) VALUES "
                                   "('conv-+14155552671', 'user'), ('other', 'user')")
    code, out, _ = run(capsys, "erase", "--phone", "+14155552671", "--yes")
    assert code == 0 and "conversations:         1 (1 tracker events)" in out
    with engine.connect() as connection:
        left = connection.exec_driver_sql("SELECT sender_id FROM events").scalars().all()
    engine.dispose()
    assert left == ["other"]


@pytest.mark.parametrize("argv", [
    [], ["bookings"], ["bookings", "mark", "MN-AAAAAA", "eligible"], ["erase"],
    ["bookings", "list", "--status", "lost"], ["nonsense"],
])
def test_usage_errors_exit_2_with_one_line(db_url, capsys, argv):
    with pytest.raises(SystemExit) as raised:
        cli.main(argv)
    assert raised.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error" in err


def test_invalid_input_is_exit_1(db_url, capsys):
    code, _, err = run(capsys, "erase", "--phone", "12345", "--yes")
    assert code == 1 and "not a valid phone number" in err
    code, _, err = run(capsys, "bookings", "list", "--limit", "0")
    assert code == 1


def test_unavailable_database_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CLINIC_DATABASE_URL", f"sqlite:///{tmp_path / 'nope' / 'clinic.db'}")
    settings.cache_clear()
    try:
        code, _, err = run(capsys, "bookings", "list")
    finally:
        settings.cache_clear()
        db.dispose_engines()
    assert code == 1 and err.count("\n") == 1 and "unavailable" in err


def test_webhook_deliver_reports_pending(db_url, capsys, monkeypatch):
    monkeypatch.setenv("CLINIC_BOOKING_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    settings.cache_clear()
    book()
    code, out, _ = run(capsys, "webhook", "deliver")
    assert code == 1 and "will retry 1" in out  # nothing listens on port 9


def test_sms_commands_are_registered_when_present():
    parser = cli.build_parser()
    commands = parser._subparsers._group_actions[0].choices  # noqa: SLF001 - argparse internals
    assert {"bookings", "erase", "webhook"} <= set(commands)
    try:
        import clinic.sms.cli  # noqa: F401
    except ModuleNotFoundError:
        return
    assert {"followups", "outbox"} <= set(commands)


def test_installed_command_runs_in_a_fresh_process(db_url):
    book()
    env = {**os.environ, "CLINIC_DATABASE_URL": db_url}
    executable = Path(sys.executable).parent / "clinic"
    command = [str(executable)] if executable.exists() else [sys.executable, "-m", "clinic.cli.commands"]
    done = subprocess.run([*command, "bookings", "list"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Ada Lovelace" in done.stdout and "FACIAL50" in done.stdout
    module = subprocess.run([sys.executable, "-m", "clinic.cli.commands", "bookings", "show", "MN-NONE22"],
                            env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert module.returncode == 1 and "Traceback" not in module.stderr


def test_erase_accepts_a_full_international_number_that_is_not_valid(db_url, tracker_store,
                                                                       capsys):
    from clinic.store.models import SmsOptOut

    with db.session_scope(db_url) as session:  # e.g. a STOP texted from a test number
        session.add(SmsOptOut(phone_e164="+15550100123", opted_out=True, keyword="STOP",
                              changed_at=dt.datetime(2026, 3, 10, tzinfo=UTC)))
    code, out, _ = run(capsys, "erase", "--phone", "+1 (555) 010-0123", "--yes")
    assert code == 0 and "SMS opt-out entries:   1" in out
    code, _, err = run(capsys, "erase", "--phone", "(555) 010-0123", "--yes")
    assert code == 1 and "not a valid phone number" in err  # national form: must be valid


def test_erase_without_a_tracker_store_fails_and_erases_nothing(db_url, capsys):
    reference = book()
    code, _, err = run(capsys, "erase", "--phone", "+14155552671", "--yes")
    assert code == 1
    assert "no tracker store at" in err and "check tracker_store_url" in err
    assert "nothing was erased" in err
    code, out, _ = run(capsys, "bookings", "list")
    assert reference in out


def test_printed_text_carries_no_control_characters(db_url, capsys):
    reference = book()
    # Rows written before control characters were stripped on the way in (raw SQL).
    engine = create_engine(db_url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "UPDATE booking_requests SET name = ?, preferred_times_text = ?",
            ("Ada\x1b[2J\x1b]0;pwned\x07 Lovelace", "Friday\rMonday\x00"))
        connection.exec_driver_sql(
            "INSERT INTO sms_messages (direction, phone_e164, body, created_at, transport, "
            "status) VALUES ('outbound', '+14155552671', ?, '2026-03-10 18:00:00', "
            "'local-outbox', 'not-sent')", ("hi\x1b[31m\x9b",))
    engine.dispose()
    for argv in (["bookings", "list"], ["bookings", "show", reference], ["outbox", "list"]):
        code, out, err = run(capsys, *argv)
        assert code == 0, err
        assert not {"\x1b", "\x07", "\x00", "\x9b", "\r"} & set(out), argv
    code, out, _ = run(capsys, "bookings", "show", reference)
    assert "Ada[2J]0;pwned Lovelace" in out and "FridayMonday" in out


def test_status_rules_live_in_the_booking_module():
    """clinic.services.booking decides which status may follow which; the CLI only asks."""
    from clinic.rules.booking import (
        BOOKING_STATUSES,
        MARKABLE_STATUSES,
        STATUS_TRANSITIONS,
        status_change_refusal,
    )

    assert set(STATUS_TRANSITIONS) == set(BOOKING_STATUSES)
    assert cli.MARKABLE == MARKABLE_STATUSES == ("confirmed", "treated", "cancelled")
    assert status_change_refusal("requested", "confirmed") is None
    assert status_change_refusal("cancelled", "confirmed") is None
    assert status_change_refusal("treated", "cancelled") == "is treated; it can't be marked cancelled"
    assert status_change_refusal("confirmed", "confirmed") == "is already confirmed"
    assert status_change_refusal("confirmed", "requested") is not None  # nothing goes back
    for status in BOOKING_STATUSES:
        assert "requested" not in STATUS_TRANSITIONS[status]
        assert status_change_refusal("treated", status) is not None  # treated is final
