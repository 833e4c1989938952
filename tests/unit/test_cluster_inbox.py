"""cluster/inbox.py: each sender's batches applied once, in order; gaps filled from its
log, live batches held meanwhile; what the log no longer has counted lost."""

from __future__ import annotations

from typing import Any

import pytest

from cluster.inbox import Inbox, Step

pytestmark = pytest.mark.timeout(10)


def batch(first: int, count: int) -> tuple[int, list[Any]]:
    """A batch of `count` messages from seq `first` on (each message: its seq)."""
    return first, list(range(first, first + count))


def applied(*steps: Step) -> list[Any]:
    return [message for step in steps for messages in step.apply for message in messages]


def test_in_order_batches_are_applied_and_a_repeat_is_dropped() -> None:
    inbox = Inbox()
    steps = [inbox.receive("a", 7, *batch(1, 3)), inbox.receive("a", 7, *batch(4, 2))]
    assert applied(*steps) == [1, 2, 3, 4, 5]
    assert applied(inbox.receive("a", 7, *batch(4, 2))) == []  # a pipeline sent again
    assert inbox.duplicates == 2 and inbox.lost == 0


def test_a_node_first_heard_of_midway_is_taken_from_there() -> None:
    inbox = Inbox(since=10)  # this node started after it: its state tells the rest
    step = inbox.receive("a", 7, *batch(500, 2))
    assert applied(step) == [500, 501] and not step.fill


def test_a_node_started_since_this_one_is_read_from_its_first_message() -> None:
    inbox = Inbox(since=10)  # its start was missed (this node's subscription was down)
    step = inbox.receive("a", 12, *batch(5, 1))
    assert step.fill == 1 and applied(step) == [] and not step.restarted
    assert applied(inbox.filled("a", 12, [batch(1, 4), batch(5, 1)])) == [1, 2, 3, 4, 5]
    assert applied(Inbox(since=10).receive("b", 12, *batch(1, 2))) == [1, 2]  # heard whole


def test_a_gap_holds_what_follows_until_the_log_fills_it_in_order() -> None:
    inbox = Inbox()
    inbox.receive("a", 7, *batch(1, 2))
    step = inbox.receive("a", 7, *batch(6, 2))  # 3-5 never came
    assert step.fill == 3 and applied(step) == []
    assert applied(inbox.receive("a", 7, *batch(8, 1))) == []  # held behind the gap
    other = inbox.receive("b", 9, *batch(1, 1))  # another sender is not held
    assert applied(other) == [1]
    # The log, read after the gap was seen, holds 3-7 (and maybe more): each once.
    filled = inbox.filled("a", 7, [batch(3, 3), batch(6, 2)])
    assert applied(filled) == [3, 4, 5, 6, 7, 8]
    assert filled.replayed == 5 and filled.lost == 0
    assert applied(inbox.receive("a", 7, *batch(9, 1))) == [9]


def test_after_a_new_subscription_every_sender_is_read_from_where_it_stopped() -> None:
    inbox = Inbox()
    inbox.receive("a", 7, *batch(1, 4))
    inbox.receive("b", 9, *batch(1, 1))
    assert sorted(inbox.catch_up()) == [("a", 7, 5), ("b", 9, 2)]
    # Live batches meanwhile wait for the read, even one that follows on.
    assert applied(inbox.receive("a", 7, *batch(7, 1))) == []
    step = inbox.filled("a", 7, [batch(5, 2), batch(7, 1)])  # the log had 7 too
    assert applied(step) == [5, 6, 7] and inbox.duplicates == 1
    nothing = inbox.filled("b", 9, [])  # b said nothing meanwhile
    assert applied(nothing) == [] and nothing.lost == 0
    assert applied(inbox.receive("b", 9, *batch(2, 1))) == [2]


def test_what_the_log_no_longer_holds_is_counted_lost_and_the_rest_applied() -> None:
    inbox = Inbox()
    inbox.receive("a", 7, *batch(1, 2))
    inbox.receive("a", 7, *batch(10, 1))
    step = inbox.filled("a", 7, [batch(6, 4)])  # 3-5 trimmed, or Redis lost its data
    assert step.lost == 3 and inbox.lost == 3
    assert applied(step) == [6, 7, 8, 9, 10]


def test_a_restarted_sender_starts_again_from_one_and_its_missed_start_is_read() -> None:
    inbox = Inbox()
    inbox.receive("a", 7, *batch(1, 40))
    step = inbox.receive("a", 8, *batch(3, 1))  # a new run; 1-2 were missed
    assert step.restarted and step.fill == 1 and applied(step) == []
    assert applied(inbox.filled("a", 8, [batch(1, 2), batch(3, 1)])) == [1, 2, 3]
    late = inbox.receive("a", 7, *batch(41, 1))  # the old run, late: dropped
    assert applied(late) == [] and not late.restarted


def test_a_fill_for_a_run_left_meanwhile_is_dropped() -> None:
    inbox = Inbox()
    inbox.receive("a", 7, *batch(1, 1))
    inbox.catch_up()
    inbox.receive("a", 8, *batch(1, 1))  # restarted while the old run's log was read
    assert applied(inbox.filled("a", 7, [batch(2, 5)])) == []
    inbox.abandon("a")
    assert applied(inbox.filled("a", 8, [batch(2, 1)])) == []


def test_a_batch_overlapping_what_was_applied_gives_only_its_new_messages() -> None:
    inbox = Inbox()
    inbox.receive("a", 7, *batch(1, 5))
    inbox.catch_up()
    assert applied(inbox.filled("a", 7, [batch(4, 4)])) == [6, 7]


def test_a_fill_applied_over_several_passes_holds_live_batches_until_released() -> None:
    inbox = Inbox()
    inbox.receive("a", 7, *batch(1, 1))
    inbox.catch_up()
    step = inbox.filled("a", 7, [batch(2, 3)], hold=True)  # applied one batch a pass
    assert applied(step) == [2, 3, 4] and step.replayed == 3
    assert applied(inbox.receive("a", 7, *batch(5, 1))) == []  # still behind the replay
    assert applied(inbox.receive("a", 7, *batch(6, 1))) == []
    assert applied(inbox.release("a", 7)) == [5, 6]
    assert applied(inbox.receive("a", 7, *batch(7, 1))) == [7]
