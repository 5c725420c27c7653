"""Counted progress lines: format, thinning, and the relay to in-process listeners."""

from __future__ import annotations

import pytest

from integrations.progress import (
    Progress,
    format_rate,
    format_seconds,
    listening,
    relay,
)


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_line_counts_items_with_the_rate_and_the_elapsed_time():
    clock, lines = FakeClock(), []
    progress = Progress("bidding", 24, "hours", lines.append, clock=clock)
    for _ in range(7):
        clock.now += 3.1
    progress.advance(7)
    assert lines == ["bidding 07/24 hours · 3.1 s/hour · 22 s"]


def test_fast_items_show_items_per_second_and_a_note_goes_before_the_rate():
    clock, lines = FakeClock(), []
    progress = Progress("device cloud", 240, "hours", lines.append, clock=clock)
    clock.now += 2.0
    progress.advance(10, note="31,204 rows")
    assert lines == ["device cloud 010/240 hours · 31,204 rows · 5.0 hours/s · 2 s"]


def test_every_s_thins_a_fast_loop_but_keeps_the_first_and_the_last_item():
    clock, lines = FakeClock(), []
    progress = Progress("pools", 50, "pools", lines.append, every_s=10, clock=clock)
    for _ in range(50):
        clock.now += 1.0
        progress.advance()
    counts = [line.split()[1] for line in lines]
    assert counts == ["01/50", "11/50", "21/50", "31/50", "41/50", "50/50"]
    assert progress.done == 50


def test_without_thinning_every_item_prints_one_line():
    lines: list[str] = []
    progress = Progress("runs", 3, "runs", lines.append, clock=FakeClock())
    for _ in range(3):
        progress.advance()
    assert len(lines) == 3
    assert lines[-1].startswith("runs 3/3 runs · ")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.4, "0 s"), (42, "42 s"), (59.6, "1 min 00 s"), (185, "3 min 05 s"), (3720, "1 h 02 min")],
)
def test_elapsed_time_reads_as_seconds_minutes_or_hours(seconds: float, text: str):
    assert format_seconds(seconds) == text


def test_the_rate_before_any_item_says_nothing_rather_than_dividing_by_zero():
    assert format_rate(0, 0.0, "hours") == "- s/hour"
    assert format_rate(1000, 2.0, "rows") == "500 rows/s"


def test_a_negative_total_is_refused():
    with pytest.raises(ValueError, match="total must be >= 0"):
        Progress("x", -1, "items")


def test_relay_writes_to_the_run_log_and_to_listeners_only_while_they_listen():
    run_log: list[str] = []
    heard: list[str] = []
    emit = relay(run_log.append)
    emit("before")
    with listening(heard.append):
        emit("during")
    emit("after")
    assert run_log == ["before", "during", "after"]
    assert heard == ["during"]
