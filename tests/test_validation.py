"""keras_mobile.validation: the one message format, and rules that live beside their fields."""

import dataclasses
from typing import Optional, Tuple

import pytest

from keras_mobile import validation as v


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: v.check_choice("mode", "trian", ("train", "eval")), "mode='trian' is not supported; accepted values: ['train', 'eval']."),
        (lambda: v.check_choice("flag", 1, (True, False)), "flag=1 is not supported; accepted values: [True, False]."),
        (lambda: v.check_bool("cache", "yes"), "cache='yes' is not supported; accepted values: True or False."),
        (lambda: v.check_int("classes", 2.0, minimum=1), "classes=2.0 is not supported; accepted values: an integer >= 1."),
        (lambda: v.check_int("steps", True), "steps=True is not supported; accepted values: an integer."),
        (lambda: v.check_number("lr", 0, 0, None, low_open=True), "lr=0 is not supported; accepted values: a number > 0."),
        (lambda: v.check_number("p", float("nan"), 0, 1), "p=nan is not supported; accepted values: a number in [0, 1]."),
        (lambda: v.check_number("p", 1.0, 0, 1, high_open=True), "p=1.0 is not supported; accepted values: a number in [0, 1)."),
        (lambda: v.check_pair("scale", (0.9, 0.1), 0, 1), "scale=(0.9, 0.1) is not supported; accepted values: a (min, max) pair"),
        (lambda: v.parse_m_by_n("prune.m_by_n", "4:2"), "prune.m_by_n='4:2' is not supported; accepted values: 'm:n'"),
        (lambda: v.parse_m_by_n("m_by_n", (2, 4.0)), "m_by_n=(2, 4.0) is not supported"),
    ],
)
def test_every_check_names_the_argument_and_the_accepted_values(call, message):
    with pytest.raises(ValueError) as error:
        call()
    assert str(error.value).startswith(message)


def test_closest_first_moves_the_names_a_misspelling_is_close_to_the_front():
    names = ["default", "cifar10", "imagenette", "imagenet2012"]
    assert v.closest_first("defualt", names) == ["default", "cifar10", "imagenet2012", "imagenette"]
    assert v.closest_first("imagenet", names)[:2] == ["imagenette", "imagenet2012"]
    assert v.closest_first(3, names) == v.closest_first("zzz", names) == sorted(names)


def test_checks_return_what_they_checked():
    assert v.check_choice("flag", False, (True, False)) is False
    assert v.check_number("lr", 1, 0, None) == 1.0 and isinstance(v.check_number("lr", 1), float)
    assert v.check_int("n", 3, minimum=1, maximum=3) == 3
    assert v.check_pair("scale", [0.1, 1], 0, 1) == (0.1, 1.0)
    assert v.parse_m_by_n("m_by_n", "2:4") == v.parse_m_by_n("m_by_n", (2, 4)) == (2, 4)


@dataclasses.dataclass(frozen=True)
class _Options:
    lr: float = dataclasses.field(default=0.1, metadata=v.interval(0, None, low_open=True))
    batch: int = dataclasses.field(default=8, metadata=v.interval(1, integer=True))
    name: str = dataclasses.field(default="sgd", metadata=v.one_of("sgd", "adamw"))
    formats: Tuple[str, ...] = dataclasses.field(default=("a",), metadata=v.items_of("a", "b"))
    clip: Optional[float] = dataclasses.field(default=None, metadata=v.interval(0, None, low_open=True))
    note: str = ""  # no rule: not checked


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("lr", 0.0, "train.lr=0.0 is not supported; accepted values: a number > 0."),
        ("batch", 2.5, "train.batch=2.5 is not supported; accepted values: an integer >= 1."),
        ("batch", 0, "train.batch=0 is not supported; accepted values: an integer >= 1."),
        ("batch", None, "train.batch=None is not supported; accepted values: an integer >= 1."),
        ("name", ("sgd",), "train.name=('sgd',) is not supported; accepted values: ['sgd', 'adamw']."),
        ("formats", ("a", "c"), "train.formats=['a', 'c'] is not supported; accepted values: a list of items from ['a', 'b'] (unknown: ['c'])."),
        ("formats", "a", "train.formats='a' is not supported; accepted values: a list of items from ['a', 'b']."),
        ("clip", -1.0, "train.clip=-1.0 is not supported; accepted values: a number > 0."),
    ],
)
def test_field_rules_check_a_dataclass(field, value, message):
    options = dataclasses.replace(_Options(), **{field: value})
    with pytest.raises(ValueError) as error:
        v.check_fields(options, prefix="train.")
    assert str(error.value) == message


def test_field_rules_accept_good_values_and_none_only_where_optional():
    assert v.check_fields(_Options(clip=None, note="anything")) == _Options(note="anything")
    assert v.check_fields(_Options(lr=2, batch=4, name="adamw", formats=["b", "a"], clip=1.0))
    rules = {f.name: v.field_rule(f) for f in dataclasses.fields(_Options)}
    assert rules["note"] is None and rules["lr"] == v.Interval(0, None, low_open=True)
