"""Model registry: ``register_variants``, ``create_model``, ``list_models``.

Each family registers its named variants as thin constructors (a builder plus
fixed keyword arguments); tests parametrize over ``list_models()`` so a new
registration is enrolled in every test automatically.
"""

import dataclasses
import fnmatch
import functools
from typing import Callable, Dict, Optional, Tuple

from keras_mobile import validation

_REGISTRY = {}


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """A registered variant: its constructor and the facts tools need about it."""

    name: str
    family: str
    constructor: Callable
    arguments: Dict
    default_resolution: int = 224
    min_resolution: int = 32
    # The builder's width-multiplier argument ("alpha", "width", "scale"), None when the family has none;
    # tools (the training harness's --width) pass a width through it instead of guessing the keyword.
    width_arg: Optional[str] = None
    # How the model normalizes [0, 255] RGB input with include_preprocessing=True (a key of
    # builder.NORMALIZATIONS): what the weights of its reference implementation were trained on.
    normalization: str = "inception"
    # (trainable params, Mult-Adds at default_resolution, source) of the reference implementation, where known.
    reference: Optional[Tuple[int, int, str]] = None

    def input_shape(self, resolution=None, arg="resolution"):
        """``(resolution, resolution, 3)`` (None: ``default_resolution``); ValueError naming ``arg`` unless
        ``resolution`` is an int >= ``min_resolution``."""
        resolution = self.default_resolution if resolution is None else resolution
        resolution = validation.check_int(arg, resolution, minimum=self.min_resolution)
        return resolution, resolution, 3


def register_variants(family, builder, variants, *, width_arg=None, normalization="inception", default_resolution=224,
                      min_resolution=32, references=None):
    """Register ``{name: builder kwargs}`` as constructors ``name(**overrides)``.

    width_arg: the name of ``builder``'s width-multiplier argument (None: the family has none).
    normalization: the input normalization the builder applies (``builder.NORMALIZATIONS``).
    """
    references = references or {}
    for name, arguments in variants.items():
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is already registered.")

        def constructor(_builder=builder, _arguments=arguments, **overrides):
            return _builder(**{**_arguments, **overrides})

        functools.update_wrapper(constructor, builder)
        constructor.__name__ = constructor.__qualname__ = name
        _REGISTRY[name] = ModelInfo(
            name, family, constructor, dict(arguments), default_resolution, min_resolution, width_arg, normalization,
            references.get(name),
        )


def list_models(pattern="*"):
    """Sorted names of registered models matching the shell-style ``pattern``."""
    validation.check_str("pattern", pattern)
    _load_families()
    return sorted(name for name in _REGISTRY if fnmatch.fnmatchcase(name, pattern))


def check_model_name(name, arg="name"):
    """``name`` if it is a registered model; else a ValueError naming ``arg`` whose accepted values list every
    registered name, the closest to ``name`` first (``validation.closest_first``)."""
    _load_families()
    if isinstance(name, str) and name in _REGISTRY:
        return name
    ordered = validation.closest_first(name, _REGISTRY)
    order = ", the closest first" if ordered != sorted(ordered) else ""
    validation.fail(arg, name, f"{ordered} (registered models{order})")


def model_info(name, arg="name"):
    """The ``ModelInfo`` of a registered model; ValueError naming ``arg`` if unknown (``check_model_name``)."""
    return _REGISTRY[check_model_name(name, arg)]


def width_override(model_name, width, arg="width"):
    """``{info.width_arg: width}`` for ``create_model(model_name, ...)``: a width for any family that has one.

    ``arg`` names the caller's own argument in the error (e.g. ``--width`` or
    ``model.width``); a family without a width multiplier is a ValueError that
    lists its registered variants.
    """
    info = model_info(model_name)
    if info.width_arg is None:
        variants = list_models(f"{info.family}*")
        validation.fail(arg, width, f"None for model {model_name!r} (the {info.family} family has no width multiplier; "
                                    f"pick a registered variant instead: {variants})")
    return {info.width_arg: width}


def create_model(model_name, /, **overrides):
    """Build registered model ``model_name``; keyword ``overrides`` (``name`` too) go to its builder.

    An unknown ``model_name`` is a ValueError listing the registered names, the closest first.
    """
    return model_info(model_name).constructor(**overrides)


def _load_families():
    import keras_mobile.models  # noqa: F401  (registers every family on import)
