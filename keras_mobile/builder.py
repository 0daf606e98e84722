"""What every family shares: argument checks, inputs, feature maps, head, weights.

A family builder validates its own architecture arguments with ``check_choice``
/ ``check_width``, gets its input from ``model_inputs``, records the last
tensor at each stride in a ``FeatureMaps`` while it builds the body, and hands
the rest to ``assemble`` (classifier or pooling or feature maps, then weights).

Input convention (every family): images are RGB, channels-last, with values in
[0, 255]. With ``include_preprocessing=True`` (the default) the model rescales
them to [-1, 1] itself; with ``include_preprocessing=False`` callers feed
[-1, 1] (what keras.applications' MobileNets and Xception expect).
"""

import numbers
import os

from keras_mobile.backend import keras, layers
from keras_mobile.blocks.conv import activation
from keras_mobile.blocks.mobile import inverted_residual

POOLINGS = (None, "avg", "max")


# --------------------------------------------------------------------------- checks
def check_choice(arg, value, accepted):
    """Raise ValueError unless ``value`` is one of ``accepted`` (bools only match bools)."""
    bool_choice = any(isinstance(a, bool) for a in accepted)
    if isinstance(value, bool) != bool_choice or value not in accepted:
        raise ValueError(f"{arg}={value!r} is not supported; accepted values: {list(accepted)}.")
    return value


def check_width(arg, value, minimum=0.0, maximum=4.0):
    """Raise ValueError unless ``value`` is a real number in (minimum, maximum]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not minimum < value <= maximum:
        raise ValueError(f"{arg}={value!r} is not supported; accepted values: a number in ({minimum}, {maximum}].")
    return float(value)


def check_positive_int(arg, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{arg}={value!r} is not supported; accepted values: a positive int.")
    return int(value)


# --------------------------------------------------------------------------- inputs
def model_inputs(input_shape=None, input_tensor=None, min_size=32, include_preprocessing=True):
    """Validate ``input_shape``/``input_tensor`` and return ``(model_input, x)``.

    ``input_shape`` is ``(height, width, channels)``; height/width may be None
    (any resolution) or an int >= ``min_size``.
    """
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
    if include_preprocessing:
        x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="preprocess")(x)
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
def build_stages(x, table, features, *, round_filters, expanded_width, se_width=None, default_act="relu6", style, se_gate="sigmoid", se_act="relu"):
    """Build a table of ``BlockSpec`` rows; stage ``i`` block ``j`` is ``stage{i}_block{j}``.

    round_filters(c) -> scaled output channels; expanded_width(in, spec) -> the
    expansion width (None for none); se_width(in, expanded, spec) -> SE width;
    se_act None means the block's own activation.
    """
    for stage_index, spec in enumerate(table, start=1):
        filters = round_filters(spec.filters)
        for block_index in range(spec.repeats):
            strides = spec.stride if block_index == 0 else 1
            in_channels = x.shape[-1]
            expanded = expanded_width(in_channels, spec)
            mid = expanded if expanded is not None else in_channels
            se_channels = se_width(in_channels, mid, spec) if spec.se_ratio and se_width else None
            x = inverted_residual(
                x,
                filters,
                expanded_channels=expanded,
                kernel_size=spec.kernel_size,
                strides=strides,
                act=spec.act or default_act,
                se_channels=se_channels,
                se_act=se_act or spec.act or default_act,
                se_gate=se_gate,
                expand_groups=spec.expand_groups,
                project_groups=spec.project_groups,
                style=style,
                name=f"stage{stage_index}_block{block_index + 1}",
            )
            features.add(x, strides)
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


def assemble(
    model_input,
    x,
    features,
    *,
    top,
    include_top=True,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    features_only=False,
    weights=None,
    name,
):
    """Finish a model: classifier, pooled features or feature maps; then weights.

    top(x, classes) builds the family's classifier up to the logits;
    ``classifier_activation`` (None for logits) is applied as ``predictions``.
    ``features_only=True`` returns a dict of the last feature map at each stride
    (``stride_2`` ... ``stride_32``) and ignores the classifier arguments.
    """
    check_choice("include_top", include_top, (True, False))
    check_choice("features_only", features_only, (True, False))
    if features_only:
        outputs = features.outputs()
    elif include_top:
        classes = check_positive_int("classes", classes)
        if classifier_activation is not None:
            try:
                keras.activations.get(classifier_activation)
            except (ValueError, TypeError):
                raise ValueError(
                    f"classifier_activation={classifier_activation!r} is not supported; accepted values: "
                    "None or a Keras activation name or callable (e.g. 'softmax', 'sigmoid', 'linear')."
                ) from None
        outputs = top(x, classes)
        if classifier_activation is not None:
            outputs = layers.Activation(classifier_activation, name="predictions")(outputs)
    else:
        check_choice("pooling", pooling, POOLINGS)
        outputs = x
        if pooling == "avg":
            outputs = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        elif pooling == "max":
            outputs = layers.GlobalMaxPooling2D(name="max_pool")(x)
    model = keras.Model(model_input, outputs, name=name)
    if weights is not None:
        load_weights(model, weights)
    return model


def scaled_name(base, width):
    """``mobilenetv2_1.00``-style default model names."""
    return f"{base}_{width:.2f}"


# --------------------------------------------------------------------------- weights
def load_weights(model, path):
    """Load a local weights file after checking every layer's shapes against it.

    Accepts the files ``model.save_weights`` writes on either Keras line
    (``.weights.h5``; legacy ``.h5``). A mismatch names the first layer whose
    shapes differ (typically ``logits`` when ``classes`` differs).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(
            f"weights={path!r} is not supported; accepted values: None or the path of a local weights file "
            "(.weights.h5 or .h5); pretrained weights are not downloaded."
        )
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"weights={path!r}: no such file (accepted values: None or the path of a local weights file).")
    for layer_name, expected, found in _compare_weight_shapes(model, path):
        raise ValueError(
            f"weights={path!r} does not fit model '{model.name}': layer '{layer_name}' has weight shapes "
            f"{expected} in the model but {found} in the file (check classes, include_top, alpha and the variant)."
        )
    model.load_weights(path)


def _compare_weight_shapes(model, path):
    import h5py

    with h5py.File(path, "r") as f:
        if "layer_names" in f.attrs:  # legacy HDF5 layout: groups named after layers
            saved = {}
            for name in f.attrs["layer_names"]:
                name = name.decode() if isinstance(name, bytes) else name
                group = f[name]
                weight_names = [w.decode() if isinstance(w, bytes) else w for w in group.attrs["weight_names"]]
                saved[name] = [tuple(group[w].shape) for w in weight_names]
            for layer in model.layers:
                expected = [tuple(w.shape) for w in layer.weights]
                found = saved.get(layer.name, [] if not expected else None)
                if found != expected:
                    yield layer.name, expected, found
            return
        # Keras 3 layout: layers/<snake_case class name>[_<n>]/vars/<i>, in layer order.
        counts = {}
        for layer in model.layers:
            key = _snake_case(type(layer).__name__)
            n = counts.get(key, 0)
            counts[key] = n + 1
            key = key if n == 0 else f"{key}_{n}"
            expected = [tuple(w.shape) for w in layer.weights]
            group = f.get(f"layers/{key}/vars")
            found = [tuple(group[str(i)].shape) for i in range(len(group))] if group is not None else None
            if found is None and not expected:
                continue
            if found != expected:
                yield layer.name, expected, found


def _snake_case(name):
    import re

    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
