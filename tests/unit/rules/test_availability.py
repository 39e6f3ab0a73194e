"""Free times and what people say about when they can come: pure, with DST and time zones."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from clinic.knowledge.appointments import load_rules
from clinic.rules.availability import Window, choose, free_slots, parse_window, spoken_slot, spread
from clinic.rules.hours import parse_hours

LA = ZoneInfo("America/Los_Angeles")
HOURS = parse_hours("Monday to Friday 9 am to 6 pm, Saturday 10 am to 2 pm")
HOUR = dt.timedelta(hours=1)
QUARTER = dt.timedelta(minutes=15)
HALF = dt.timedelta(minutes=30)


def slots(window: Window, busy: list[tuple[dt.datetime, dt.datetime]] | None = None,
          now: dt.datetime | None = None, tz: ZoneInfo = LA, **kw: object) -> list[dt.datetime]:
    return free_slots(hours=HOURS, busy=busy or [], window=window, duration=HOUR, buffer=QUARTER,
                      step=HALF, tz=tz, now=now or dt.datetime(2031, 1, 1, tzinfo=dt.timezone.utc),
                      **kw)  # type: ignore[arg-type]


def day(d: dt.date) -> Window:
    return Window(d, d)


def test_a_free_day_offers_every_half_hour_the_visit_fits_before_closing() -> None:
    found = slots(day(dt.date(2031, 3, 4)))  # a Tuesday
    assert found[0] == dt.datetime(2031, 3, 4, 9, tzinfo=LA)
    assert found[-1] == dt.datetime(2031, 3, 4, 17, tzinfo=LA)  # 17:00-18:00 fits, 17:30 does not
    assert len(found) == 17
    assert slots(day(dt.date(2031, 3, 9))) == []  # Sunday: closed
    saturday = slots(day(dt.date(2031, 3, 8)))
    assert (saturday[0].hour, saturday[-1].hour) == (10, 13)


def test_busy_times_and_the_buffer_on_both_sides_are_respected() -> None:
    busy = [(dt.datetime(2031, 3, 4, 11, tzinfo=LA), dt.datetime(2031, 3, 4, 12, tzinfo=LA))]
    found = {s.strftime("%H:%M") for s in slots(day(dt.date(2031, 3, 4)), busy)}
    # 10:00-11:00 ends right at 11:00 without 15 minutes' buffer; 12:00 starts with none
    assert {"09:30", "12:30"} <= found
    assert not found & {"10:00", "10:30", "11:00", "11:30", "12:00"}


def test_notice_and_now() -> None:
    now = dt.datetime(2031, 3, 4, 10, 10, tzinfo=LA)
    found = slots(day(dt.date(2031, 3, 4)), now=now, notice=dt.timedelta(hours=2))
    assert found[0] == dt.datetime(2031, 3, 4, 12, 30, tzinfo=LA)


def test_spring_forward_keeps_wall_times_and_counts_real_time() -> None:
    # 2031-03-09 is the US spring-forward Sunday; give the clinic Sunday 1 am to 5 am hours
    hours = parse_hours("Sunday 1 am to 5 am")
    found = free_slots(hours=hours, busy=[], window=day(dt.date(2031, 3, 9)), duration=HOUR,
                       buffer=dt.timedelta(0), step=HALF, tz=LA,
                       now=dt.datetime(2031, 1, 1, tzinfo=dt.timezone.utc))
    walls = [s.strftime("%H:%M") for s in found]
    assert "02:00" not in walls and "02:30" not in walls  # those wall times do not exist
    assert walls[0] == "01:00" and walls[-1] == "04:00"
    # 1:30 am PST + 60 real minutes = 3:30 am PDT: offered, and it is one real hour
    assert "01:30" in walls
    # the week after, 9 am is still 9 am local (UTC offset changed from -8 to -7)
    before = slots(day(dt.date(2031, 3, 7)))[0]
    after = slots(day(dt.date(2031, 3, 10)))[0]
    assert before.hour == after.hour == 9
    assert before.utcoffset() == -dt.timedelta(hours=8) and after.utcoffset() == -dt.timedelta(hours=7)


def test_fall_back_a_visit_is_sixty_real_minutes_and_busy_times_in_utc_line_up() -> None:
    hours = parse_hours("Sunday 12 am to 3 am")
    sunday = dt.date(2031, 11, 2)  # US fall-back: 1:00-2:00 happens twice
    found = free_slots(hours=hours, busy=[], window=day(sunday), duration=HOUR,
                       buffer=dt.timedelta(0), step=HOUR, tz=LA,
                       now=dt.datetime(2031, 1, 1, tzinfo=dt.timezone.utc))
    # 0:00, 1:00 (first), 2:00: the 2:00 visit ends at 3:00 wall = closing
    assert [s.strftime("%H:%M") for s in found] == ["00:00", "01:00", "02:00"]
    # 1:30-2:30 am PST, after the clocks went back: the first 1:00 am (PDT) visit is untouched
    busy_utc = [(dt.datetime(2031, 11, 2, 9, 30, tzinfo=dt.timezone.utc),
                 dt.datetime(2031, 11, 2, 10, 30, tzinfo=dt.timezone.utc))]
    found = free_slots(hours=hours, busy=busy_utc, window=day(sunday), duration=HOUR,
                       buffer=dt.timedelta(0), step=HOUR, tz=LA,
                       now=dt.datetime(2031, 1, 1, tzinfo=dt.timezone.utc))
    assert [s.strftime("%H:%M") for s in found] == ["00:00", "01:00"]
    assert found[1].utcoffset() == -dt.timedelta(hours=7)


def test_the_clinics_time_zone_decides_what_9_am_is() -> None:
    tokyo, london = ZoneInfo("Asia/Tokyo"), ZoneInfo("Europe/London")
    for tz in (tokyo, london, LA):
        first = slots(day(dt.date(2031, 3, 4)), tz=tz)[0]
        assert (first.hour, first.tzinfo) == (9, tz)
    utc_starts = {slots(day(dt.date(2031, 3, 4)), tz=tz)[0].astimezone(dt.timezone.utc)
                  for tz in (tokyo, london, LA)}
    assert len(utc_starts) == 3
    # a busy time written in UTC blocks the right local hour
    busy = [(dt.datetime(2031, 3, 4, 0, tzinfo=dt.timezone.utc),
             dt.datetime(2031, 3, 4, 1, tzinfo=dt.timezone.utc))]  # 9-10 am in Tokyo
    assert slots(day(dt.date(2031, 3, 4)), busy, tz=tokyo)[0].strftime("%H:%M") == "10:30"


def test_spread_offers_different_days_first() -> None:
    week = slots(Window(dt.date(2031, 3, 3), dt.date(2031, 3, 9)))
    offered = spread(week, 3)
    assert [s.day for s in offered] == [3, 4, 5]
    assert spread(week[:2], 3) == week[:2]


# what the person said, seen from Tuesday 4 March 2031, 10 am
NOW = dt.datetime(2031, 3, 4, 10, tzinfo=LA)


@pytest.mark.parametrize("said, first, last, weekdays, earliest, latest", [
    ("thursday after 3", "2031-03-04", "2031-04-01", {3}, "15:00", None),
    ("next week mornings", "2031-03-10", "2031-03-16", None, "00:00", "12:00"),
    ("asap", "2031-03-04", "2031-04-01", None, None, None),
    ("tuesday or thursday afternoons", "2031-03-04", "2031-04-01", {1, 3}, "12:01", "17:00"),
    ("tomorrow before 11am", "2031-03-05", "2031-03-05", None, None, "11:00"),
    ("Fridays after 4:30pm", "2031-03-04", "2031-04-01", {4}, "16:30", None),
    ("March 12", "2031-03-12", "2031-03-12", None, None, None),
    ("mornings or afternoons", "2031-03-04", "2031-04-01", None, "00:00", "17:00"),
    ("whenever works", "2031-03-04", "2031-04-01", None, None, None),
])
def test_parse_window(said: str, first: str, last: str, weekdays: set[int] | None,
                      earliest: str | None, latest: str | None) -> None:
    window = parse_window(said, NOW, LA)
    assert window is not None
    assert (window.first_day.isoformat(), window.last_day.isoformat()) == (first, last)
    assert window.weekdays == (frozenset(weekdays) if weekdays else None)
    assert (window.earliest.strftime("%H:%M") if window.earliest else None) == earliest
    assert (window.latest.strftime("%H:%M") if window.latest else None) == latest


@pytest.mark.parametrize("said", ["ok", "?", "stop", "I have acne scars", ""])
def test_words_about_no_time_are_no_window(said: str) -> None:
    assert parse_window(said, NOW, LA) is None


def test_afternoons_start_after_noon_and_mornings_end_before_it() -> None:
    """A visit at 12 noon is offered to nobody who asked for afternoons or for mornings."""
    thursday = dt.date(2031, 3, 6)
    afternoon = parse_window("thursday afternoon", NOW, LA)
    morning = parse_window("thursday morning", NOW, LA)
    assert afternoon is not None and morning is not None
    on_thursday = [s for s in slots(afternoon, now=NOW) if s.date() == thursday]
    assert on_thursday[0] == dt.datetime(2031, 3, 6, 12, 30, tzinfo=LA)
    assert on_thursday[-1] == dt.datetime(2031, 3, 6, 16, 30, tzinfo=LA)
    mornings = [s for s in slots(morning, now=NOW) if s.date() == thursday]
    assert mornings[-1] == dt.datetime(2031, 3, 6, 11, 30, tzinfo=LA)


def test_thursday_after_3_offers_thursday_afternoons_only() -> None:
    window = parse_window("thursday after 3", NOW, LA)
    assert window is not None
    found = slots(window, now=NOW)
    assert found and all(s.weekday() == 3 and s.hour >= 15 for s in found)
    assert found[0] == dt.datetime(2031, 3, 6, 15, tzinfo=LA)


OFFERED = [dt.datetime(2031, 3, 6, 15, tzinfo=LA), dt.datetime(2031, 3, 6, 16, 30, tzinfo=LA),
           dt.datetime(2031, 3, 7, 10, tzinfo=LA)]


@pytest.mark.parametrize("said, index", [
    ("the second one", 1), ("2", 1), ("first", 0), ("the last one", 2), ("4:30", 1),
    ("4.30pm", 1), ("friday", 2), ("10am", 2), ("thursday 3pm", 0), ("3", 2),
    (OFFERED[2].isoformat(), 2), ("the fifth one", None), ("ok", None), ("thursday", None),
    ("9am", None),
])
def test_choose(said: str, index: int | None) -> None:
    chosen = choose(said, OFFERED)
    assert chosen == (OFFERED[index] if index is not None else None)


def test_spoken_slot_spells_the_date_out() -> None:
    assert spoken_slot(OFFERED[1]) == "Thursday 6 March 2031 at 4:30 pm"
    assert spoken_slot(OFFERED[2]) == "Friday 7 March 2031 at 10 am"


def test_every_treatment_of_the_clinic_has_a_length() -> None:
    import yaml

    from clinic.knowledge.kb import DEFAULT_KNOWLEDGE_DIR
    rules = load_rules()
    clinic = yaml.safe_load((DEFAULT_KNOWLEDGE_DIR / "clinic.yml").read_text())
    for treatment in clinic["treatments"]:
        assert rules.length(treatment["id"]).minutes > 0
    assert rules.offer_count >= 1 and rules.hold_expiry.total_seconds() > 0
