"""The long-conversation figures of the benchmark (dev/bench/long.py): blocks, growth, reply check."""

from __future__ import annotations

from clinic.rasa.resilience import unavailable_message
from dev.bench.long import blocks, growth, markdown, play_order, reply_ok


def test_block_medians_and_growth() -> None:
    latencies = [0.010] * 50 + [0.020] * 49 + [1.0] + [0.013] * 10
    medians = blocks(latencies, 50)
    assert medians == [10.0, 20.0]  # the partial last block is left out; one outlier is not
    assert growth(medians) == 2.0
    assert growth([10.0]) is None


def test_a_try_again_or_empty_reply_is_a_failure_not_a_fast_turn() -> None:
    assert reply_ok(["Microneedling is ..."])
    assert not reply_ok([])
    assert not reply_ok(["  "])
    assert not reply_ok([unavailable_message()])


def test_the_table_shows_every_block_and_the_growth() -> None:
    table = markdown({"ours": {"block": 50, "block_median_ms": [40.0, 44.0], "growth": 1.1,
                               "failed_replies": 0}})
    assert "0-50 | 50-100" in table and "| ours | 40 ms | 44 ms | 1.1x | 0 |" in table


def test_each_assistant_plays_its_turns_in_order_in_alternating_rounds() -> None:
    order = play_order(["ours", "stock"], 25, rounds_of=10)
    assert [turn for name, turn in order if name == "ours"] == list(range(25))
    assert [turn for name, turn in order if name == "stock"] == list(range(25))
    # rounds of ten, the first of a round alternating: ours, stock, stock, ours, ours, stock
    firsts = [order[i][0] for i in range(0, 50, 10)]
    assert firsts == ["ours", "stock", "stock", "ours", "ours"]
    # nine turns in ten follow the same assistant's own turn
    same = sum(order[i][0] == order[i - 1][0] for i in range(1, len(order)))
    assert same >= 0.8 * len(order)
    assert play_order(["ours"], 3) == [("ours", 0), ("ours", 1), ("ours", 2)]
