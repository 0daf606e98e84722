"""Argument validation shared by the package: one clear ValueError per mistake."""

import numbers


def check_choice(name, value, choices):
    """Raises unless `value` is one of `choices`; returns it."""
    if value not in choices:
        raise ValueError(
            f"{name}={value!r} is not supported; expected one of "
            f"{sorted(choices)}."
        )
    return value


def check_int(name, value, *, minimum=None):
    """Raises unless `value` is an int (not a bool) >= `minimum`; returns it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer; got {value!r}.")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value!r}.")
    return int(value)


def check_float(name, value, *, low, high, low_open=False, high_open=False):
    """Raises unless `value` is a real number inside the given interval."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number; got {value!r}.")
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if too_low or too_high:
        interval = (
            f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        )
        raise ValueError(f"{name} must be in {interval}; got {value!r}.")
    return float(value)


def check_range(name, value, *, low, high):
    """Raises unless `value` is a (min, max) pair with low <= min <= max <= high."""
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        raise ValueError(f"{name} must be a (min, max) pair; got {value!r}.")
    lo = check_float(f"{name}[0]", value[0], low=low, high=high)
    hi = check_float(f"{name}[1]", value[1], low=low, high=high)
    if lo > hi:
        raise ValueError(f"{name} must satisfy min <= max; got {value!r}.")
    return lo, hi


def check_bool(name, value):
    """Raises unless `value` is a bool (0/1 and strings are not accepted)."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False; got {value!r}.")
    return value
