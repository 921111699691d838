"""Helpers shared by the SDK scenarios."""
import time


def wait_for(what, fn, timeout=30.0):
    """Polls fn() -> (done, value) with a short backoff; the timeout error names the last value."""
    deadline = time.monotonic() + timeout
    delay, last = 0.01, None
    while time.monotonic() < deadline:
        ok, last = fn()
        if ok:
            return last
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
    raise AssertionError(f"timed out waiting for {what}; last seen: {last!r}")
