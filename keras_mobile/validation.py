"""Argument checks shared by keras_mobile, tfds_configs and train_tpu: one message format.

Every check raises ``ValueError("{arg}={value!r} is not supported; accepted
values: {accepted}.")``, naming the argument (or the dotted config key) and
what it accepts, and returns the value it checked; nothing is coerced except
an int given where a number is expected (returned as a float).

Dataclasses keep each field's accepted values beside the field, in its
metadata, so a renamed field cannot lose its check:

    @dataclasses.dataclass(frozen=True)
    class Options:
        lr: float = dataclasses.field(default=0.1, metadata=interval(0, None, low_open=True))
        name: str = dataclasses.field(default="sgd", metadata=one_of("sgd", "adamw"))

    check_fields(options, prefix="optimizer.")   # every field that carries a rule

This module imports nothing heavy (no Keras, no TensorFlow), so the data and
training packages can use it without selecting a Keras line.
"""

import dataclasses
import difflib
import math
import numbers
import typing

_RULE = "keras_mobile.validation"  # the metadata key of a field's rule


def fail(arg, value, accepted):
    """Raise the package's ValueError for ``arg=value``; ``accepted`` says what is accepted."""
    raise ValueError(f"{arg}={value!r} is not supported; accepted values: {accepted}.")


def closest_first(value, names):
    """``names`` sorted, with those closest to ``value`` (a misspelt string; ``difflib``) moved to the front:
    the order in which an error lists the accepted names."""
    names = sorted(names)
    close = difflib.get_close_matches(value, names, n=5, cutoff=0.6) if isinstance(value, str) else []
    return close + [name for name in names if name not in close]


# --------------------------------------------------------------------------- value checks
def check_choice(arg, value, accepted):
    """``value`` if it is one of ``accepted`` (a bool matches only bools, and 1 never matches True)."""
    accepted = tuple(accepted)
    is_bool = isinstance(value, bool)
    if not any(value == a and is_bool == isinstance(a, bool) for a in accepted):
        fail(arg, value, list(accepted))
    return value


def check_bool(arg, value):
    """``value`` if it is True or False (0, 1 and strings are refused)."""
    if not isinstance(value, bool):
        fail(arg, value, "True or False")
    return value


def check_str(arg, value, allow_empty=True):
    """``value`` if it is a string (non-empty unless ``allow_empty``)."""
    if not isinstance(value, str) or (not allow_empty and not value):
        fail(arg, value, "a string" if allow_empty else "a non-empty string")
    return value


def check_int(arg, value, minimum=None, maximum=None):
    """``value`` as an int if it is an integer (not a bool) in [minimum, maximum]."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    ok = ok and (minimum is None or value >= minimum) and (maximum is None or value <= maximum)
    if not ok:
        fail(arg, value, _describe_int(minimum, maximum))
    return int(value)


def check_number(arg, value, low=None, high=None, *, low_open=False, high_open=False):
    """``value`` as a float if it is a real number (not a bool, not NaN) inside the interval.

    ``low`` / ``high`` None mean unbounded; ``low_open`` / ``high_open`` exclude the end.
    """
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isnan(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        fail(arg, value, "a number" + _describe_interval(low, high, low_open, high_open))
    return float(value)


def check_pair(arg, value, low=None, high=None):
    """``(lo, hi)`` floats from a 2-sequence with low <= lo <= hi <= high."""
    accepted = "a (min, max) pair of numbers with min <= max" + _describe_interval(low, high, False, False)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        fail(arg, value, accepted)
    lo, hi = value
    for item in value:
        ok = isinstance(item, numbers.Real) and not isinstance(item, bool) and not math.isnan(item)
        if not ok or (low is not None and item < low) or (high is not None and item > high):
            fail(arg, value, accepted)
    if lo > hi:
        fail(arg, value, accepted)
    return float(lo), float(hi)


def parse_m_by_n(arg, value):
    """``(m, n)`` from ``"2:4"`` or ``(2, 4)``: m zeros in every n consecutive weights, 1 <= m < n."""
    accepted = "'m:n' or a pair of ints (m, n) with 1 <= m < n (m zeros in every n consecutive weights), e.g. '2:4'"
    if isinstance(value, str):
        parts = value.split(":")
        try:
            pair = tuple(int(p) for p in parts)
        except ValueError:
            pair = ()
    elif isinstance(value, (tuple, list)) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        pair = tuple(value)
    else:
        pair = ()
    if len(pair) != 2 or not 1 <= pair[0] < pair[1]:
        fail(arg, value, accepted)
    return pair


# --------------------------------------------------------------------------- rules in dataclass metadata
@dataclasses.dataclass(frozen=True)
class Interval:
    """A numeric range; ints only when ``integer``. None ends are unbounded."""

    low: object = None
    high: object = None
    low_open: bool = False
    high_open: bool = False
    integer: bool = False

    def describe(self):
        kind = "an integer" if self.integer else "a number"
        return kind + _describe_interval(self.low, self.high, self.low_open, self.high_open)

    def check(self, arg, value):
        if self.integer:
            ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
            if ok and self.low is not None:
                ok = value > self.low if self.low_open else value >= self.low
            if ok and self.high is not None:
                ok = value < self.high if self.high_open else value <= self.high
            if not ok:
                fail(arg, value, self.describe())
            return int(value)
        return check_number(arg, value, self.low, self.high, low_open=self.low_open, high_open=self.high_open)


@dataclasses.dataclass(frozen=True)
class OneOf:
    """One of a fixed set of values; with ``items``: a list / tuple whose every item is one of them."""

    accepted: tuple
    items: bool = False

    def describe(self):
        return f"a list of items from {list(self.accepted)}" if self.items else str(list(self.accepted))

    def check(self, arg, value):
        if not self.items:
            return check_choice(arg, value, self.accepted)
        if not isinstance(value, (tuple, list)):
            fail(arg, value, self.describe())
        unknown = [v for v in value if v not in self.accepted]
        if unknown:
            fail(arg, list(value), f"{self.describe()} (unknown: {unknown})")
        return tuple(value)


@dataclasses.dataclass(frozen=True)
class Range:
    """A ``(min, max)`` pair of numbers with min <= max, each inside the interval (None ends: unbounded)."""

    low: object = None
    high: object = None
    low_open: bool = False
    high_open: bool = False

    def describe(self):
        return ("a (min, max) pair of numbers with min <= max, each"
                + (_describe_interval(self.low, self.high, self.low_open, self.high_open) or " a number"))

    def check(self, arg, value):
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            fail(arg, value, self.describe())
        bounds = Interval(self.low, self.high, self.low_open, self.high_open)
        for item in value:
            try:
                bounds.check(arg, item)
            except ValueError:
                fail(arg, list(value), self.describe())
        if value[0] > value[1]:
            fail(arg, list(value), self.describe())
        return float(value[0]), float(value[1])


def interval(low=None, high=None, *, low_open=False, high_open=False, integer=False):
    """Field metadata: the field's value must lie in the interval (None ends: unbounded)."""
    return {_RULE: Interval(low, high, low_open, high_open, integer)}


def range_of(low=None, high=None, *, low_open=False, high_open=False):
    """Field metadata: the field is a ``(min, max)`` pair, min <= max, each inside the interval."""
    return {_RULE: Range(low, high, low_open, high_open)}


def one_of(*accepted):
    """Field metadata: the field's value must be one of ``accepted``."""
    return {_RULE: OneOf(tuple(accepted))}


def items_of(*accepted):
    """Field metadata: the field is a list / tuple whose every item is one of ``accepted``."""
    return {_RULE: OneOf(tuple(accepted), items=True)}


def field_rule(field):
    """The rule (``Interval`` / ``Range`` / ``OneOf``) in a dataclass field's metadata, or None."""
    return field.metadata.get(_RULE)


def check_field(arg, value, field, optional=False):
    """``value`` checked against ``field``'s rule; None passes only when ``optional``."""
    rule = field_rule(field)
    if rule is None or (value is None and optional):
        return value
    if value is None:
        fail(arg, value, rule.describe())
    return rule.check(arg, value)


def check_fields(instance, prefix=""):
    """Check every field of a dataclass instance that carries a rule; errors name ``{prefix}{field}``.

    None is accepted only for fields annotated ``Optional[...]``.
    """
    hints = typing.get_type_hints(type(instance))
    for field in dataclasses.fields(instance):
        optional = type(None) in typing.get_args(hints.get(field.name))
        check_field(f"{prefix}{field.name}", getattr(instance, field.name), field, optional)
    return instance


# --------------------------------------------------------------------------- wording
def _describe_interval(low, high, low_open, high_open):
    if low is None and high is None:
        return ""
    if high is None:
        return f" {'>' if low_open else '>='} {low}"
    if low is None:
        return f" {'<' if high_open else '<='} {high}"
    return f" in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"


def _describe_int(minimum, maximum):
    return "an integer" + _describe_interval(minimum, maximum, False, False)


__all__ = [
    "fail", "closest_first", "check_choice", "check_bool", "check_str", "check_int", "check_number", "check_pair",
    "parse_m_by_n",
    "Interval", "Range", "OneOf", "interval", "range_of", "one_of", "items_of", "field_rule", "check_field", "check_fields",
]
