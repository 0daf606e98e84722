"""Primitives every block is made of: activations, conv-BN-act, squeeze-excite.

All of them emit stock Keras layers only (no tensor arithmetic, hence no
``TFOpLambda`` under tf_keras). Naming scheme: a block owns a prefix such as
``stem``, ``stage3_block2`` or ``head`` and every layer is ``{prefix}_{op}``,
e.g. ``stage3_block2_expand_conv``, ``..._dw_bn``, ``..._se_reduce``,
``..._project_bn``, ``..._add``.
"""

import dataclasses

from keras_mobile.backend import layers
from keras_mobile.validation import fail

ACTIVATIONS = ("relu", "relu6", "swish", "sigmoid", "hard_sigmoid", "hard_swish")
PADDINGS = ("same", "symmetric")


@dataclasses.dataclass(frozen=True)
class ConvStyle:
    """How a family's reference implementation pads and normalises.

    padding: ``"same"`` is TensorFlow's SAME (models born in TF: MobileNets,
    Xception); ``"symmetric"`` pads ``kernel // 2`` on every side before a VALID
    convolution, as PyTorch does (timm/torchvision-born models), so weights
    ported from those run identically.
    bn_epsilon / bn_momentum: BatchNormalization settings (PyTorch's momentum 0.1
    is Keras' 0.9).
    """

    padding: str = "same"
    bn_epsilon: float = 1e-3
    bn_momentum: float = 0.99

    def __post_init__(self):
        if self.padding not in PADDINGS:
            fail("ConvStyle.padding", self.padding, list(PADDINGS))


TF_STYLE = ConvStyle("same", 1e-3, 0.999)
TORCH_STYLE = ConvStyle("symmetric", 1e-5, 0.9)


def activation(x, kind, name):
    """Apply activation ``kind`` (one of ``ACTIVATIONS``, or None) as stock layers.

    hard_sigmoid(x) = relu6(x + 3) / 6 is built literally, ``Rescaling(1, offset=3)``
    -> ``ReLU(6)`` -> ``Rescaling(1/6)``, and hard_swish(x) = x * hard_sigmoid(x)
    adds a ``Multiply``: in this form the TFLite converter fuses hard-swish into
    its single ``HARD_SWISH`` op (fp32 and int8), where the algebraically equal
    ``relu(x / 6 + 0.5)`` clipped at 1 stays four unfused elementwise ops (4.5x
    slower in int8; see ``python -m keras_mobile.benchmark --ops``).
    """
    if kind is None:
        return x
    if kind == "relu":
        return layers.ReLU(name=name)(x)
    if kind == "relu6":
        return layers.ReLU(6.0, name=name)(x)
    if kind in ("swish", "sigmoid"):
        return layers.Activation(kind, name=name)(x)
    if kind == "hard_sigmoid":
        x = layers.Rescaling(1.0, offset=3.0, name=f"{name}_shift")(x)
        x = layers.ReLU(6.0, name=f"{name}_relu6")(x)
        return layers.Rescaling(1.0 / 6.0, name=name)(x)
    if kind == "hard_swish":
        gate = activation(x, "hard_sigmoid", f"{name}_gate")
        return layers.Multiply(name=name)([x, gate])
    fail("activation", kind, f"None or one of {list(ACTIVATIONS)}")


def batch_norm(x, style, name):
    return layers.BatchNormalization(
        epsilon=style.bn_epsilon, momentum=style.bn_momentum, name=name
    )(x)


def _pad(x, kernel_size, strides, style, name):
    """Explicit symmetric padding for ``symmetric`` style; returns (x, keras padding)."""
    if style.padding == "same":
        return x, "same"
    if kernel_size > 1:
        x = layers.ZeroPadding2D(kernel_size // 2, name=f"{name}_pad")(x)
    return x, "valid"


def conv(x, filters, kernel_size=1, strides=1, groups=1, style=TF_STYLE, use_bias=False, name=None):
    """A plain (optionally grouped) ``Conv2D`` padded according to ``style``."""
    x, padding = _pad(x, kernel_size, strides, style, name)
    return layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        groups=groups,
        use_bias=use_bias,
        name=f"{name}_conv",
    )(x)


def conv_bn_act(x, filters, kernel_size=1, strides=1, groups=1, act=None, style=TF_STYLE, name=None):
    """Conv (no bias) -> BN -> activation: layers ``{name}_conv``, ``_bn``, ``_act``."""
    x = conv(x, filters, kernel_size, strides, groups, style, name=name)
    x = batch_norm(x, style, f"{name}_bn")
    return activation(x, act, f"{name}_act")


def depthwise_bn_act(x, kernel_size=3, strides=1, act=None, style=TF_STYLE, depth_multiplier=1, name=None):
    """DepthwiseConv (no bias) -> BN -> activation: ``{name}_conv``, ``_bn``, ``_act``."""
    x, padding = _pad(x, kernel_size, strides, style, name)
    x = layers.DepthwiseConv2D(
        kernel_size,
        strides=strides,
        padding=padding,
        depth_multiplier=depth_multiplier,
        use_bias=False,
        name=f"{name}_conv",
    )(x)
    x = batch_norm(x, style, f"{name}_bn")
    return activation(x, act, f"{name}_act")


def squeeze_excite(x, reduced_channels, act="relu", gate="sigmoid", style=None, name=None):
    """Squeeze-and-excitation (Hu et al. 2018) from stock layers.

    GlobalAveragePooling (kept 4-D) -> 1x1 conv with bias to ``reduced_channels``
    -> [BN when ``style`` is given, as in ReXNet] -> ``act`` -> 1x1 conv with bias
    back to the input channels -> ``gate`` -> Multiply with the input.
    """
    channels = x.shape[-1]
    s = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_pool")(x)
    s = layers.Conv2D(reduced_channels, 1, use_bias=True, name=f"{name}_reduce")(s)
    if style is not None:
        s = batch_norm(s, style, f"{name}_bn")
    s = activation(s, act, f"{name}_act")
    s = layers.Conv2D(channels, 1, use_bias=True, name=f"{name}_expand")(s)
    s = activation(s, gate, f"{name}_gate")
    return layers.Multiply(name=f"{name}_mul")([x, s])


def partial_residual_add(shortcut, x, name):
    """Add ``shortcut`` to the first ``shortcut.shape[-1]`` channels of ``x``.

    ReXNet adds its residual to the leading channels of a wider output, and
    MobileNeXt's identity-tensor multiplier adds it to a leading fraction:
    both are ChannelSplit -> Add -> Concatenate. Equal widths give a plain Add.
    """
    from keras_mobile.layers import ChannelSplit

    width, total = shortcut.shape[-1], x.shape[-1]
    if width == total:
        return layers.Add(name=f"{name}_add")([shortcut, x])
    head, tail = ChannelSplit([width, total - width], name=f"{name}_split")(x)
    head = layers.Add(name=f"{name}_add")([shortcut, head])
    return layers.Concatenate(name=f"{name}_concat")([head, tail])
