"""Payload matchers: what each accepts and refuses, how it shows in a message, and that none of
them looks into a value that isn't data."""

from __future__ import annotations

import datetime
import re
from unittest import mock

import pytest

from pytest_kindling_signals import ANY, any_of, at_least, at_most, emitted, matching, satisfies
from pytest_kindling_signals.record.matchers import values_match


class Frame:
    """Stands for a DataFrame: comparing it, or anything else on it, raises."""

    def __eq__(self, other: object) -> bool:
        raise AssertionError("== on a DataFrame-like value")

    def __ge__(self, other: object) -> bool:
        raise AssertionError(">= on a DataFrame-like value")

    __le__ = __ge__
    __hash__ = object.__hash__


@pytest.mark.parametrize("matcher, accepted, refused", [
    (at_least(1), [1, 2.5, 10**12], [0, 0.99, True, "3", None, [3]]),
    (at_most(60), [0, 60, -1.5], [61, False, "1"]),
    (at_least(datetime.date(2025, 1, 1)), [datetime.date(2025, 1, 2)], [datetime.date(2024, 12, 31), "2025-02-01"]),
    (at_least("b"), ["b", "c"], ["a", 3]),
    (any_of("ok", "skipped", at_least(10)), ["ok", "skipped", 11], ["failed", 9, None]),
    (matching(r"timed? ?out"), ["query timed out", "timeout"], ["failed", 3, None]),
    (matching(re.compile(r"^\d+$")), ["42"], ["4a"]),
    (ANY, [None, 0, "", [], Frame()], []),
    (satisfies(lambda v: v % 2 == 0, "even"), [0, 2], [1]),
])
def test_each_matcher_accepts_and_refuses(matcher, accepted, refused):
    for value in accepted:
        assert matcher == value, (matcher, value)
        assert values_match(matcher, value)
    for value in refused:
        assert matcher != value, (matcher, value)
        assert not values_match(matcher, value)


def test_matchers_show_what_the_test_wrote():
    assert [repr(m) for m in (at_least(1), at_most(2.5), any_of("a", at_least(3)), matching("x+"), ANY,
                              satisfies(lambda v: v, "truthy"))] == [
        "at_least(1)", "at_most(2.5)", "any_of('a', at_least(3))", "matching('x+')", "ANY", "satisfies(truthy)"]

    def has_rows(record) -> bool:
        return True

    assert repr(emitted("entity.post_merge", rows_inserted=at_least(1), check=has_rows)) == (
        "emitted('entity.post_merge', rows_inserted=at_least(1), check=has_rows)")
    assert repr(emitted("entity.post_merge")) == "'entity.post_merge'"
    assert emitted("x.y", n=1).describe() == "'x.y' with n=1"


def test_no_matcher_looks_into_a_value_that_isnt_data():
    frame = Frame()
    for matcher in (at_least(1), at_most(1), any_of(1, "a"), matching("x")):
        assert not values_match(matcher, frame)
    assert values_match(ANY, frame) and values_match(mock.ANY, frame) and values_match(frame, frame)
    assert not values_match(3, frame) and not values_match([frame], [frame])


@pytest.mark.parametrize("make, message", [
    (lambda: at_least(True), r"^at_least\(True\): the bound is a number, a str or a date/time; e.g. at_least\(1\)$"),
    (lambda: at_most([1]), r"^at_most\(\[1\]\): the bound is a number"),
    (lambda: any_of(), r"^any_of\(\) needs at least one value; e.g. any_of\('ok', 'skipped'\)$"),
    (lambda: matching(3), r"^matching\(3\): the pattern is a regular expression \(a str\)"),
    (lambda: satisfies(3), r"^satisfies\(3\): give a function of the value"),
])
def test_bad_arguments_name_the_value_and_the_fix(make, message):
    with pytest.raises(TypeError, match=message):
        make()


def test_a_bad_regular_expression_is_named():
    with pytest.raises(ValueError, match=r"^matching\('\('\): not a regular expression: missing \)"):
        matching("(")
