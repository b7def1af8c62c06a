"""A candidate's plan: a canary's ramp of traffic shares, how long it stays at each step
and how many requests a step needs; checked before anything changes.

Kept apart from :mod:`prodml.deploy.changes` (and light to import) so that the command
line can show these defaults without loading the store.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from prodml.errors import ConfigError, shortened

#: A canary's traffic share at each step, percent.
DEFAULT_RAMP = (1.0, 5.0, 25.0, 50.0, 100.0)
#: The shortest time a canary stays at one step, seconds.
DEFAULT_STEP_SECONDS = 600.0
#: The fewest canary requests a step needs before it may advance.
DEFAULT_MIN_REQUESTS = 500


def check_ramp(ramp: Sequence[float]) -> tuple[float, ...]:
    """``ramp`` as a tuple of percentages, or :class:`ConfigError` saying what is wrong.

    >>> check_ramp([1, 10, 100])
    (1.0, 10.0, 100.0)
    """
    bad = [step for step in ramp if isinstance(step, bool) or not isinstance(step, int | float)]
    if bad:  # named by its type: the repr of a deeply nested list would not end
        raise ConfigError(
            f"--ramp holds a {type(bad[0]).__name__} where a number belongs; give "
            "increasing percentages above 0 that end at 100, e.g. 1,5,25,50,100"
        )
    steps = tuple(float(step) for step in ramp)
    shown = shortened(",".join(f"{step:g}" for step in steps), 200)
    if not steps or any(not 0 < step <= 100 for step in steps):
        raise ConfigError(
            f"--ramp {shown or '(empty)'} has a share outside 0-100; give increasing "
            "percentages above 0 that end at 100, e.g. 1,5,25,50,100"
        )
    if any(b <= a for a, b in itertools.pairwise(steps)) or steps[-1] != 100:
        raise ConfigError(f"--ramp {shown} must increase and end at 100, e.g. 1,5,25,50,100")
    return steps
