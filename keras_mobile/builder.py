"""What every family shares: the common model options, inputs, the table builder, head, weights.

A family builder is a function decorated with ``@model_builder``: it takes
its architecture arguments (``alpha``, ``variant``, ...) and a
``ModelOptions`` holding the arguments every model takes (``input_shape``,
``include_top``, ``weights``, ``pooling``, ``classes``, ...). It gets its input
from ``options.inputs(min_size)``, builds the body while recording the last
tensor at each stride in a ``FeatureMaps``, and returns
``options.finish(...)`` (classifier or pooling or feature maps, then weights).
Table-driven families (MobileNetV1/V2/V3, MixNet, MobileNeXt, ReXNet) build
their body with ``build_stages``, which reads the block type of each
``BlockSpec`` row and emits the matching block with the family's
``BlockRules``.

Input convention (every family): images are RGB, channels-last, with values in
[0, 255]. With ``include_preprocessing=True`` (the default) the model maps them
itself to what its reference implementation was trained on (``NORMALIZATIONS``:
[-1, 1] for the TF-born families, ImageNet mean / std for the PyTorch-born
ones), so weights converted from the reference run unchanged; with
``include_preprocessing=False`` callers feed that normalized input.
"""

import dataclasses
import functools
import inspect
import numbers
from typing import Callable, Optional

from keras_mobile.backend import keras, layers
from keras_mobile.blocks.conv import TF_STYLE, ConvStyle
from keras_mobile.blocks.linear_bottleneck import linear_bottleneck
from keras_mobile.blocks.mobile import depthwise_separable, inverted_residual
from keras_mobile.blocks.sandglass import sandglass, sandglass_layout
from keras_mobile.pretrained.files import load_weights
from keras_mobile.validation import check_bool, check_choice, check_int, check_number, fail

POOLINGS = (None, "avg", "max")
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
# name -> (scale, offset) of the input ``Rescaling`` from [0, 255] RGB, or None for none.
NORMALIZATIONS = {
    # [-1, 1]: keras.applications / TF-slim (MobileNets, Xception)
    "inception": (1.0 / 127.5, -1.0),
    # (x / 255 - mean) / std per channel: timm / torchvision (ReXNet, MixNet, ShuffleNetV2, SqueezeNet, MobileNeXt)
    "imagenet": ([1.0 / (255.0 * s) for s in _IMAGENET_STD], [-m / s for m, s in zip(_IMAGENET_MEAN, _IMAGENET_STD)]),
    # the pixels as they are (megvii's ShuffleNetV1 trains on raw [0, 255])
    "raw": None,
}


# --------------------------------------------------------------------------- inputs
def model_inputs(input_shape=None, input_tensor=None, min_size=32, include_preprocessing=True,
                 normalization="inception"):
    """Validate ``input_shape``/``input_tensor`` and return ``(model_input, x)``.

    ``input_shape`` is ``(height, width, channels)``; height/width may be None
    (any resolution) or an int >= ``min_size``. With ``include_preprocessing``,
    ``x`` is the input mapped by ``NORMALIZATIONS[normalization]`` (a
    ``preprocess`` Rescaling layer).
    """
    check_choice("normalization", normalization, tuple(NORMALIZATIONS))
    if keras.backend.image_data_format() != "channels_last":
        raise ValueError(
            "keras_mobile builds channels-last models only; image_data_format is "
            f"{keras.backend.image_data_format()!r} (accepted: 'channels_last')."
        )
    if input_tensor is not None:
        if not _is_keras_tensor(input_tensor):
            raise ValueError(
                f"input_tensor must be a symbolic Keras tensor (e.g. keras.Input(...)); got {type(input_tensor).__name__}."
            )
        tensor_shape = tuple(input_tensor.shape[1:])
        if input_shape is not None and tuple(input_shape) != tensor_shape:
            raise ValueError(f"input_shape={tuple(input_shape)} does not match input_tensor's shape {tensor_shape}.")
        input_shape = tensor_shape
    if input_shape is None:
        input_shape = (None, None, 3)
    accepted = f"(height, width, channels) with height and width None or ints >= {min_size}, channels a positive int"
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
        raise ValueError(f"input_shape={input_shape!r} is not supported; accepted values: {accepted}.")
    height, width, channels = input_shape
    for size in (height, width):
        if size is not None and (isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < min_size):
            raise ValueError(f"input_shape={tuple(input_shape)} is not supported; accepted values: {accepted}.")
    if isinstance(channels, bool) or not isinstance(channels, numbers.Integral) or channels < 1:
        raise ValueError(f"input_shape={tuple(input_shape)} is not supported; accepted values: {accepted}.")
    model_input = input_tensor if input_tensor is not None else layers.Input(shape=tuple(input_shape), name="image")
    x = model_input
    if include_preprocessing and NORMALIZATIONS[normalization] is not None:
        scale, offset = NORMALIZATIONS[normalization]
        x = layers.Rescaling(scale, offset=offset, name="preprocess")(x)
    return model_input, x


def _is_keras_tensor(value):
    try:  # tf_keras raises ValueError for non-tensors instead of returning False
        return bool(keras.backend.is_keras_tensor(value))
    except ValueError:
        return False


# --------------------------------------------------------------------------- feature maps
class FeatureMaps:
    """Tracks the running stride and keeps the last tensor seen at each stride."""

    def __init__(self):
        self.stride = 1
        self.maps = {}

    def add(self, x, stride=1):
        """Record ``x``, produced by a layer/block of the given ``stride``."""
        self.stride *= stride
        self.maps[self.stride] = x
        return x

    def outputs(self):
        """``{"stride_2": t, "stride_4": t, ...}`` for strides 2..32 that exist."""
        return {f"stride_{s}": t for s, t in sorted(self.maps.items()) if s >= 2}


# --------------------------------------------------------------------------- table-driven bodies
@dataclasses.dataclass(frozen=True)
class BlockRules:
    """How a family turns a ``BlockSpec`` row into block arguments (its reference's rounding rules).

    round_filters: table channels -> block output channels (the width multiplier's rule).
    expanded_width: ``(in_channels, spec) -> width`` after an ``ir`` / ``lb`` expansion
        (called only when the row expands: ``spec.expansion != 1``, or always for ``ir``).
    se_width: ``(in_channels, mid_channels, spec) -> reduced width`` of a squeeze-excite
        (called only for rows with ``se_ratio > 0``).
    act: the block activation when a row names none; depthwise_act: ``lb``'s
        activation after the depthwise conv; se_act: the SE's inner activation
        (None: the block's); se_gate: the SE gate.
    depth_multiplier: of ``dsa`` depthwise convs (MobileNetV1).
    identity_multiplier: fraction of a sandglass residual's channels that get
        the shortcut (MobileNeXt Sec. 3.3).
    """

    round_filters: Callable = int
    expanded_width: Optional[Callable] = None
    se_width: Optional[Callable] = None
    act: str = "relu6"
    depthwise_act: Optional[str] = None
    se_act: Optional[str] = "relu"
    se_gate: str = "sigmoid"
    depth_multiplier: int = 1
    identity_multiplier: float = 1.0
    style: ConvStyle = TF_STYLE


def _emit_dsa(x, spec, filters, strides, first, rules, name):
    x = depthwise_separable(x, filters, strides, spec.act or rules.act, rules.style, rules.depth_multiplier, name=name)
    return x, strides


def _emit_inverted_residual(x, spec, filters, strides, first, rules, name):
    in_channels = x.shape[-1]
    expanded = rules.expanded_width(in_channels, spec) if spec.block == "ir" else None
    act = spec.act or rules.act
    se_channels = None
    if spec.se_ratio and rules.se_width:
        se_channels = rules.se_width(in_channels, expanded if expanded is not None else in_channels, spec)
    x = inverted_residual(
        x, filters, expanded_channels=expanded, kernel_size=spec.kernel_size, strides=strides, act=act,
        se_channels=se_channels, se_act=rules.se_act or act, se_gate=rules.se_gate,
        expand_groups=spec.expand_groups, project_groups=spec.project_groups, style=rules.style, name=name,
    )
    return x, strides


def _emit_sandglass(x, spec, filters, strides, first, rules, name):
    layout = sandglass_layout(
        x.shape[-1], filters, strides, spec.reduction, keep_3x3=first and spec.repeats == 1 and spec.stride == 1
    )
    x = sandglass(x, filters, identity_multiplier=rules.identity_multiplier, act=spec.act or rules.act,
                  style=rules.style, name=name, **layout)
    return x, layout["strides"]


def _emit_linear_bottleneck(x, spec, filters, strides, first, rules, name):
    in_channels = x.shape[-1]
    expanded = rules.expanded_width(in_channels, spec) if spec.expansion != 1 else None
    act = spec.act or rules.act
    se_channels = None
    if spec.se_ratio and rules.se_width:
        se_channels = rules.se_width(in_channels, expanded or in_channels, spec)
    x = linear_bottleneck(
        x, filters, expanded_channels=expanded, strides=strides, se_channels=se_channels, act=act,
        dw_act=rules.depthwise_act or act, se_act=rules.se_act or act, style=rules.style, name=name,
    )
    return x, strides


# block type (``specs.BLOCK_TYPES``) -> emitter(x, spec, filters, strides, first, rules, name) -> (x, stride)
BLOCK_EMITTERS = {
    "dsa": _emit_dsa,
    "ds": _emit_inverted_residual,
    "ir": _emit_inverted_residual,
    "sg": _emit_sandglass,
    "lb": _emit_linear_bottleneck,
}


def build_stages(x, table, features, rules):
    """Build a table of ``BlockSpec`` rows with ``rules``; stage ``i`` block ``j`` is ``stage{i}_block{j}``.

    Each row is a stage of ``repeats`` blocks (the first with the row's stride),
    unless it ``continues`` the previous row's stage. Every block's output is
    recorded in ``features`` at its stride.
    """
    stage = block = 0
    for spec in table:
        if not spec.continues or stage == 0:
            stage, block = stage + 1, 0
        filters = rules.round_filters(spec.filters)
        emit = BLOCK_EMITTERS[spec.block]
        for repeat in range(spec.repeats):
            block += 1
            strides = spec.stride if repeat == 0 else 1
            x, applied_stride = emit(x, spec, filters, strides, repeat == 0, rules, f"stage{stage}_block{block}")
            features.add(x, applied_stride)
    return x

# --------------------------------------------------------------------------- heads
def pooled_dense_top(dropout_rate=0.0):
    """The common classifier: global average pool -> [dropout] -> Dense ``logits``."""

    def top(x, classes):
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout_rate:
            x = layers.Dropout(dropout_rate, name="dropout")(x)
        return layers.Dense(classes, name="logits")(x)

    return top


# --------------------------------------------------------------------------- options every model takes
@dataclasses.dataclass(frozen=True)
class ModelOptions:
    """The arguments every builder takes besides its architecture arguments.

    input_shape: ``(height, width, channels)``; height/width None (default) build
        a model for any resolution >= the family's minimum.
    include_top: end in the classifier (``classes`` outputs); False ends at the
        last feature map, or a pooled vector with ``pooling``.
    weights: None (random initialisation), ``"imagenet"`` (the keras.applications files:
        MobileNetV1/V2/V3 and Xception; downloaded once into Keras' cache) or the path
        of a weights file (``model.save_weights``, ``keras_mobile.convert``, or a
        keras.applications ``.h5``).
    input_tensor: a symbolic Keras tensor to build on instead of a new Input.
    pooling: with ``include_top=False``: None, "avg" or "max".
    classes: classifier outputs (``include_top=True``).
    classifier_activation: applied as the ``predictions`` layer; None returns logits.
    include_preprocessing: the model maps [0, 255] RGB inputs itself to what its
        reference was trained on (``NORMALIZATIONS``; the family's normalization).
    features_only: return a dict of the last feature map at each stride
        (``stride_2`` ... ``stride_32``); it has no classifier and no pooling, so
        ``include_top=True``, ``pooling``, ``classes`` and ``classifier_activation``
        are refused beside it.
    name: the model's name (default: the family's name for the variant).

    An option the chosen output would ignore is an error naming both (``from_arguments``).
    """

    input_shape: Optional[tuple] = None
    include_top: bool = True
    weights: Optional[str] = None
    input_tensor: object = None
    pooling: Optional[str] = None
    classes: int = 1000
    classifier_activation: object = "softmax"
    include_preprocessing: bool = True
    features_only: bool = False
    name: Optional[str] = None

    @classmethod
    def from_arguments(cls, given):
        """The options from the keyword arguments a caller gave (``given``; the others keep their defaults).

        An option that the model's output would ignore is refused, naming it and the option that makes it
        ignored: with ``features_only=True``, ``include_top=True``, ``pooling``, ``classes`` and
        ``classifier_activation``; with ``include_top=True``, ``pooling``; with ``include_top=False``,
        ``classes`` and ``classifier_activation``. ``include_top=False`` and ``pooling=None`` say "none"
        and pass.
        """
        options = cls(**given)
        check_bool("include_top", options.include_top)
        check_bool("features_only", options.features_only)
        if options.features_only:
            output = "features_only=True (a dict of unpooled feature maps, no classifier)"
            ignored = ("include_top", "pooling", "classes", "classifier_activation")
        elif options.include_top:
            output, ignored = "include_top=True (pooling applies to include_top=False)", ("pooling",)
        else:
            output, ignored = "include_top=False (no classifier)", ("classes", "classifier_activation")
        for name in ignored:
            if name in given and not (name in _NONE_VALUES and given[name] is _NONE_VALUES[name]):
                accepted = f"{_NONE_VALUES[name]!r} or left out" if name in _NONE_VALUES else "left out"
                fail(name, given[name], f"{accepted} with {output}")
        return options

    def inputs(self, min_size=32, normalization="inception"):
        """``(model_input, x)``: the validated input and the (normalized) tensor the body starts from.

        normalization: the family's input normalization, a key of ``NORMALIZATIONS``.
        """
        check_bool("include_preprocessing", self.include_preprocessing)
        return model_inputs(self.input_shape, self.input_tensor, min_size, self.include_preprocessing, normalization)

    def finish(self, model_input, x, features, top, default_name, imagenet=None):
        """The model: classifier (``top(x, classes)`` -> logits, then ``predictions``), pooled
        features or feature maps; then its weights.

        imagenet: for ``weights="imagenet"``, the keras.applications file this
        variant loads (``pretrained.imagenet.ImagenetFile``); None when the
        family has no published ImageNet file.
        """
        if self.features_only:
            outputs = features.outputs()
        elif self.include_top:
            classes = check_int("classes", self.classes, minimum=1)
            activation = self.classifier_activation
            if activation is not None:
                try:
                    keras.activations.get(activation)
                except (ValueError, TypeError):
                    raise ValueError(
                        f"classifier_activation={activation!r} is not supported; accepted values: "
                        "None or a Keras activation name or callable (e.g. 'softmax', 'sigmoid', 'linear')."
                    ) from None
            outputs = top(x, classes)
            if activation is not None:
                outputs = layers.Activation(activation, name="predictions")(outputs)
        else:
            check_choice("pooling", self.pooling, POOLINGS)
            outputs = x
            if self.pooling == "avg":
                outputs = layers.GlobalAveragePooling2D(name="avg_pool")(x)
            elif self.pooling == "max":
                outputs = layers.GlobalMaxPooling2D(name="max_pool")(x)
        model = keras.Model(model_input, outputs, name=self.name or default_name)
        if self.weights is not None:
            load_weights(model, self.weights, imagenet=imagenet, include_top=self.include_top and not self.features_only,
                         classes=self.classes)
        return model


_OPTION_NAMES = tuple(field.name for field in dataclasses.fields(ModelOptions))
# Options whose value says "none" (no classifier, no pooling): given beside an output that ignores them, they pass.
_NONE_VALUES = {"include_top": False, "pooling": None}
# Architecture arguments that several families take under one name, checked here for all of them.
SHARED_ARGUMENTS = {
    "dropout_rate": lambda value: check_number("dropout_rate", value, 0.0, 1.0, high_open=True),
}


def model_builder(function):
    """Make ``function(options, **architecture)`` a builder ``function(**architecture, **options)``.

    The public builder takes the family's architecture arguments and, as
    keyword arguments, every ``ModelOptions`` field; its signature (``help``,
    ``inspect.signature``) lists both, and its docstring gains the options'.
    The options are checked together (``ModelOptions.from_arguments``), and the
    architecture arguments in ``SHARED_ARGUMENTS`` (``dropout_rate`` in [0, 1))
    by their shared rule.
    """
    own = list(inspect.signature(function).parameters.values())[1:]
    clash = [p.name for p in own if p.name in _OPTION_NAMES]
    if clash:
        raise TypeError(f"{function.__name__}: architecture arguments {clash} shadow ModelOptions fields.")
    defaults = ModelOptions()
    shared = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=getattr(defaults, n)) for n in _OPTION_NAMES]
    signature = inspect.Signature(own + shared)

    @functools.wraps(function)
    def builder(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        options = ModelOptions.from_arguments({k: v for k, v in bound.arguments.items() if k in _OPTION_NAMES})
        architecture = {k: SHARED_ARGUMENTS[k](v) if k in SHARED_ARGUMENTS else v
                        for k, v in bound.arguments.items() if k not in _OPTION_NAMES}
        return function(options, **architecture)

    builder.__signature__ = signature
    builder.__doc__ = (inspect.cleandoc(function.__doc__ or "") + "\n\nEvery model also takes the options of "
                       "``keras_mobile.builder.ModelOptions`` as keyword arguments (input_shape, include_top, weights, "
                       "input_tensor, pooling, classes, classifier_activation, include_preprocessing, features_only, "
                       "name).")
    return builder
