"""The circuit breaker's states over a clock the test moves: it opens on the N-th failure
in a row, lets one probe through after the wait, closes on its success, reopens on its
failure, and a success in between restarts the count."""

from __future__ import annotations

import pytest

from prodml.errors import ConfigError
from prodml.serve.breaker import Breaker


def test_it_opens_on_the_nth_failure_in_a_row_and_a_success_restarts_the_count() -> None:
    breaker = Breaker(failures=3, probe_after=10)
    changes = [breaker.failed(0), breaker.failed(1), breaker.succeeded(2)]
    changes += [breaker.failed(3), breaker.failed(4), breaker.failed(5)]
    assert changes == [None, None, None, None, None, "open"]
    assert [breaker.allows(t) for t in (5, 9, 14.9)] == [False, False, False]


def test_one_probe_after_the_wait_closes_it_on_success_or_reopens_it_on_failure() -> None:
    breaker = Breaker(failures=1, probe_after=10)
    assert breaker.failed(0) == "open"
    assert (breaker.allows(10), breaker.allows(10), breaker.state) == (True, False, "half-open")
    assert breaker.failed(11) == "open" and breaker.opened_at == 11
    assert (breaker.allows(20), breaker.allows(21)) == (False, True)
    assert breaker.succeeded(22) == "closed"
    assert all(breaker.allows(t) for t in (22, 23)) and breaker.failed(24) == "open"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"failures": 0}, "serve.breaker.failures is 0"),
        ({"failures": True}, "serve.breaker.failures is True"),
        ({"probe_after": 0}, "serve.breaker.probe_after is 0 seconds"),
    ],
)
def test_mistaken_settings_name_the_value(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Breaker(**options)  # type: ignore[arg-type]
