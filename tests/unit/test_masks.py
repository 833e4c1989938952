"""masks.py on its own: completing, matching and wording masks and mode strings."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.masks import (
    Change,
    address_mask,
    complete,
    entry_matches,
    glob,
    mask_problem,
    matches,
    parse_changes,
    word_changes,
)


@pytest.mark.parametrize(
    ("given", "full"),
    [
        ("bob", "bob!*@*"),
        ("bob!~bob", "bob!~bob@*"),
        ("~bob@10.0.0.7", "*!~bob@10.0.0.7"),
        ("10.0.0.7", "*!*@10.0.0.7"),
        ("10.0.0.0/8", "*!*@10.0.0.0/8"),
        ("2001:db8::1", "*!*@2001:db8::1"),
        ("*", "*!*@*"),
        ("!@", "*!*@*"),
        ("a.b", "a.b!*@*"),  # a name may have dots: only an address is taken as a host
        ("bob!*@*", "bob!*@*"),
        ("M:bob", "m:bob!*@*"),  # a mute completes what it mutes
        ("m:10.0.0.7", "m:*!*@10.0.0.7"),
        ("m:a:Alice", "m:a:Alice"),
        ("m:", "m:*!*@*"),
    ],
)
def test_a_mask_is_completed_to_nick_user_host(given: str, full: str) -> None:
    assert complete(given) == full


def test_masks_match_names_in_every_case_width_and_lookalike() -> None:
    for name in ("Bob", "BOB", "\uff42\uff4f\uff42", "b\u043eb"):  # fullwidth; Cyrillic o
        assert matches("bob!*@*", name, "~x", "10.0.0.7")
    assert matches("b?b!*@*", "bib", "~x", "h")
    assert not matches("bob!*@*", "bobby", "~x", "h")
    assert matches("bob*!*@*", "bobby", "~x", "h")
    assert matches("*!*@*", "anyone", "~any", "::1")


def test_rfc1459_brackets_fold_like_braces() -> None:
    assert matches("[dan]!*@*", "{DAN}", "~d", "h")


def test_a_network_in_the_host_part_matches_the_addresses_in_it() -> None:
    assert matches("*!*@10.0.0.0/8", "bob", "~bob", "10.1.2.3")
    assert not matches("*!*@10.0.0.0/8", "bob", "~bob", "11.1.2.3")
    assert matches("*!*@2001:db8::/64", "bob", "~bob", "2001:db8::beef")
    assert not matches("*!*@2001:db8::/64", "bob", "~bob", "localhost")


def test_banning_an_address_takes_its_ipv6_64_and_unmaps_ipv4() -> None:
    assert address_mask("10.0.0.7") == "*!*@10.0.0.7"
    assert address_mask("2001:db8:1:2:3:4:5:6") == "*!*@2001:db8:1:2::/64"
    assert address_mask("::ffff:10.0.0.7") == "*!*@10.0.0.7"
    assert address_mask("localhost") == "*!*@localhost"


def test_a_mask_with_a_space_a_comma_or_nothing_cannot_be_listed() -> None:
    assert mask_problem("", 50) == "empty"
    assert mask_problem("a b", 50) is not None
    assert mask_problem("a,b", 50) is not None
    assert mask_problem("x" * 51, 50) == "longer than 50 characters"
    assert mask_problem("bob!*@*", 50) is None
    assert mask_problem("m:M:bob", 50) == "a mute of a mute"


def test_a_list_entry_matches_by_account_or_mask_and_a_mute_by_what_it_mutes() -> None:
    assert entry_matches("m:bob!*@*", "BOB", "~b", "h", "")
    assert entry_matches("m:a:rob*", "bob", "~b", "h", "robert")
    assert not entry_matches("m:a:rob*", "robert", "~r", "h", "")  # a guest: no account
    assert entry_matches("a:robert", "bob", "~b", "h", "Robert")
    assert not entry_matches("bob!*@*", "alice", "~a", "h", "bob")


def test_mode_strings_take_their_arguments_in_order() -> None:
    changes, queries, unknown = parse_changes("+kl-bo+xb", ["key", "10", "m!*@*", "bob"])
    assert changes == [
        Change("+", "k", "key"), Change("+", "l", "10"), Change("-", "b", "m!*@*"),
        Change("-", "o", "bob"),
    ]  # fmt: skip
    assert (queries, unknown) == (["b"], ["x"])
    assert parse_changes("-lk", []) == ([Change("-", "l"), Change("-", "k")], [], [])
    assert parse_changes("+ov", []) == ([], [], [])  # nobody named: nothing to do


def test_changes_are_worded_with_each_sign_once() -> None:
    changes = [Change("+", "o", "a"), Change("+", "v", "b"), Change("-", "m"), Change("+", "t")]
    assert word_changes(changes) == ("+ov-m+t", ("a", "b"))


HOSTILE = "*a" * 20 + "*b"  # with backtracking regular expressions: 40! tries on "aaa..."


@pytest.mark.timeout(5)
def test_a_mask_of_many_stars_is_matched_in_linear_passes() -> None:
    assert not matches(f"{HOSTILE}!*@*", "a" * 24, "~" + "a" * 9, "10.0.0.1")
    assert matches(f"{HOSTILE}!*@*", "a" * 22 + "b", "~x", "h")
    assert not matches(f"*!*@{HOSTILE}", "bob", "~bob", ":".join(["aaaa"] * 8))


@pytest.mark.timeout(5)
def test_a_who_mask_of_many_stars_cannot_stall_the_server() -> None:
    from doors.irc.who import mask_matcher

    assert not mask_matcher(HOSTILE)("a" * 60)
    assert mask_matcher("[x]*")("{X}yz")


@settings(max_examples=500, deadline=None)
@given(st.text("ab*?", max_size=8), st.text("ab*?", max_size=10))
def test_glob_agrees_with_the_regular_expression_it_replaces(pattern: str, text: str) -> None:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    assert glob(pattern, text) == (re.fullmatch(regex, text, re.DOTALL) is not None)
