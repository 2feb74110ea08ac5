"""Recording: the ``SignalRecorder`` a test holds, its records, waits and assertions, and their failure text.

    >>> from pytest_kindling_signals.record import SignalRecorder, at_least, emitted   # doctest: +SKIP
    >>> rec.wait_for_all(["entity.pre_merge", emitted("entity.post_merge", rows_inserted=at_least(1))])  # doctest: +SKIP

By module: ``recorder`` (the recorder and its waits), ``records`` (one record), ``assertions``
(the assertions and the failure builders the plugin's marker uses),
``waiting`` (what a wait waits for), ``matchers`` (payload matchers and
patterns), ``snapshot`` (payloads recorded as sent), ``failures`` (the
failure text).
"""

from __future__ import annotations

from pytest_kindling_signals.record.assertions import (
    SignalAssertions,
    contract_failure,
    emitted_failure,
    matched_failure,
    resolve_known,
)
from pytest_kindling_signals.record.failures import Failure, render_failure, render_failures
from pytest_kindling_signals.record.matchers import (
    ANY,
    Matcher,
    SignalPattern,
    any_of,
    at_least,
    at_most,
    emitted,
    matching,
    satisfies,
)
from pytest_kindling_signals.record.recorder import (
    DEFAULT_TIMEOUT,
    SignalRecord,
    SignalRecorder,
    UnknownSignalPatternError,
    check_timeout,
)
from pytest_kindling_signals.record.snapshot import MAX_DEPTH, MAX_ITEMS, Truncated, snapshot_payload

__all__ = [
    "ANY", "DEFAULT_TIMEOUT", "MAX_DEPTH", "MAX_ITEMS", "Failure", "Matcher", "SignalAssertions",
    "SignalPattern", "SignalRecord", "SignalRecorder", "Truncated", "UnknownSignalPatternError", "any_of",
    "at_least", "at_most", "check_timeout", "contract_failure", "emitted", "emitted_failure", "matched_failure",
    "matching", "render_failure", "render_failures", "resolve_known", "satisfies", "snapshot_payload",
]
