"""Xception's separable-convolution blocks (Chollet 2017, "Xception", Fig. 5).

SeparableConv2D (depthwise then pointwise, no BN or activation between them,
as in the paper) -> BN, with ReLU before each separable conv, and a residual
that is either the identity (middle flow) or a strided 1x1 conv + BN added
after a 3x3/2 max pool (entry and exit flows).
"""

from keras_mobile.backend import layers
from keras_mobile.blocks.conv import TF_STYLE, activation, batch_norm, conv


def separable_conv_bn(x, filters, style=TF_STYLE, name=None):
    """SeparableConv2D 3x3 (no bias) -> BN: layers ``{name}_conv``, ``{name}_bn``."""
    x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    return batch_norm(x, style, f"{name}_bn")


def xception_block(x, filters, downsample, activate_first=True, style=TF_STYLE, name=None):
    """[ReLU] -> sepconv-BN, repeated for each width in ``filters``, plus a residual.

    downsample: the residual is a 1x1/2 conv + BN (``{name}_shortcut``, created
    first as in the reference so weights line up) and the body ends with a
    3x3/2 max pool; otherwise the residual is the identity.
    activate_first: False for the first entry-flow block, which follows a ReLU.
    """
    if downsample:
        shortcut = conv(x, filters[-1], 1, 2, style=style, name=f"{name}_shortcut")
        shortcut = batch_norm(shortcut, style, f"{name}_shortcut_bn")
    else:
        shortcut = x
    for index, width in enumerate(filters, start=1):
        if index > 1 or activate_first:
            x = activation(x, "relu", f"{name}_sep{index}_act")
        x = separable_conv_bn(x, width, style, name=f"{name}_sep{index}")
    if downsample:
        x = layers.MaxPooling2D(3, 2, padding="same", name=f"{name}_pool")(x)
    return layers.Add(name=f"{name}_add")([x, shortcut])
