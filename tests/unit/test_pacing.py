"""The token bucket with a fake clock (docs/protocol.md, Transport, "Flood control")."""

from __future__ import annotations

import pytest

from net.pacing import TokenBucket


def test_a_full_bucket_gives_its_burst_at_once_then_says_how_long_to_wait() -> None:
    bucket = TokenBucket(rate_per_s=5, burst=3, now=100.0)
    assert [bucket.take(100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(100.0) == pytest.approx(0.2)


def test_a_token_comes_back_after_one_over_the_rate() -> None:
    bucket = TokenBucket(rate_per_s=4, burst=1, now=0.0)
    assert bucket.take(0.0) == 0.0
    assert bucket.take(0.1) == pytest.approx(0.15)  # 0.4 of a token is back
    assert bucket.take(0.25) == 0.0
    assert bucket.take(0.25) == pytest.approx(0.25)


def test_a_refusal_takes_nothing() -> None:
    bucket = TokenBucket(rate_per_s=2, burst=1, now=0.0)
    bucket.take(0.0)
    for _ in range(5):
        assert bucket.take(0.0) == pytest.approx(0.5)
    assert bucket.take(0.5) == 0.0


def test_the_bucket_holds_no_more_than_its_burst() -> None:
    bucket = TokenBucket(rate_per_s=10, burst=2, now=0.0)
    assert bucket.tokens(3600.0) == 2
    assert [bucket.take(3600.0) for _ in range(2)] == [0.0, 0.0]
    assert bucket.take(3600.0) == pytest.approx(0.1)


def test_a_steady_sender_at_the_rate_is_never_held_back() -> None:
    bucket = TokenBucket(rate_per_s=4, burst=1, now=0.0)
    assert all(bucket.take(n * 0.25) == 0.0 for n in range(100))


def test_tokens_refill_in_fractions() -> None:
    bucket = TokenBucket(rate_per_s=5, burst=10, now=0.0)
    for _ in range(10):
        bucket.take(0.0)
    assert bucket.tokens(0.0) == 0
    assert bucket.tokens(0.1) == pytest.approx(0.5)


def test_a_rate_of_zero_is_no_bucket() -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate_per_s=0, burst=10, now=0.0)


def test_a_charge_may_go_into_debt_and_the_next_line_waits_until_it_is_paid() -> None:
    bucket = TokenBucket(rate_per_s=5, burst=10, now=0.0)
    bucket.charge(12, 0.0)  # a multiline message of 12 lines, taken at once
    assert bucket.tokens(0.0) == -2
    assert bucket.take(0.0) == pytest.approx(0.6)  # three tokens short of one
    assert bucket.take(0.6) == 0.0
