"""The shared retry policy: transient errors retry with backoff, Retry-After is a floor."""

import pytest

from domain.errors import FatalProviderError, PermanentError, TransientError
from tasks.retry import RetryPolicy


class Flaky:
    """Fails with the queued errors, then succeeds; records every call."""

    def __init__(self, *errors):
        self.errors = list(errors)
        self.calls = 0

    def __call__(self):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def test_transient_errors_are_retried_until_success():
    sleeps = []
    fn = Flaky(TransientError("429"), TransientError("503"))
    assert RetryPolicy(4, 1.0, 30.0).call(fn, sleep=sleeps.append) == "ok"
    assert fn.calls == 3
    assert 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0  # exponential, jittered


def test_retry_after_is_honoured_as_a_floor():
    sleeps = []
    RetryPolicy(3, 0.1, 0.2).call(Flaky(TransientError("429", retry_after=5)), sleep=sleeps.append)
    assert 5.0 <= sleeps[0] <= 5.5


@pytest.mark.parametrize("error", [PermanentError("400"), FatalProviderError("401")])
def test_non_transient_errors_are_not_retried(error):
    fn = Flaky(error)
    with pytest.raises(type(error)):
        RetryPolicy(4).call(fn, sleep=lambda s: None)
    assert fn.calls == 1


def test_gives_up_after_max_attempts_and_says_so():
    fn = Flaky(*[TransientError("503")] * 5)
    with pytest.raises(TransientError, match="gave up after 3 attempts"):
        RetryPolicy(3).call(fn, sleep=lambda s: None)
    assert fn.calls == 3


def test_absurd_retry_after_gives_up_instead_of_sleeping():
    fn = Flaky(TransientError("429", retry_after=3600))
    with pytest.raises(TransientError, match="giving up"):
        RetryPolicy(4).call(fn, sleep=lambda s: pytest.fail("must not sleep an hour"))
