"""Depthwise-separable and inverted-residual blocks (MobileNetV1/V2/V3, MixNet).

One ``inverted_residual`` covers MobileNetV2 (Sandler et al. 2018, Table 1),
MobileNetV3's bneck with squeeze-excite and hard-swish (Howard et al. 2019,
Tables 1-2) and MixNet's blocks with mixed-kernel depthwise and grouped
pointwise convolutions (Tan & Le 2019, Fig. 4).
"""

from keras_mobile.backend import layers
from keras_mobile.blocks.conv import (
    TF_STYLE,
    activation,
    batch_norm,
    conv_bn_act,
    depthwise_bn_act,
    squeeze_excite,
    _pad,
)
from keras_mobile.channels import split_channels


def depthwise_separable(x, filters, strides=1, act="relu6", style=TF_STYLE, depth_multiplier=1, name=None):
    """MobileNetV1's block (Howard et al. 2017, Fig. 3): dw 3x3-BN-act, pw 1x1-BN-act."""
    x = depthwise_bn_act(x, 3, strides, act, style, depth_multiplier, name=f"{name}_dw")
    return conv_bn_act(x, filters, 1, act=act, style=style, name=f"{name}_pw")


def mixed_depthwise(x, kernel_sizes, strides=1, style=TF_STYLE, name=None):
    """MixConv (Tan & Le 2019, Sec. 3): channel groups each get their own kernel size.

    Channels are split with ``split_channels`` (remainder to the first group),
    every group is convolved depthwise with its kernel and the results are
    concatenated. A single kernel size is a plain DepthwiseConv2D. Returns the
    pre-normalisation output; layers are ``{name}_split``, ``{name}_conv_{i}``,
    ``{name}_concat``.
    """
    from keras_mobile.layers import ChannelSplit

    kernel_sizes = tuple(kernel_sizes)
    if len(kernel_sizes) == 1:
        y, padding = _pad(x, kernel_sizes[0], strides, style, name)
        return layers.DepthwiseConv2D(
            kernel_sizes[0], strides, padding=padding, use_bias=False, name=f"{name}_conv"
        )(y)
    parts = ChannelSplit(split_channels(x.shape[-1], len(kernel_sizes)), name=f"{name}_split")(x)
    outputs = []
    for i, (part, k) in enumerate(zip(parts, kernel_sizes)):
        part, padding = _pad(part, k, strides, style, f"{name}_{i}")
        outputs.append(
            layers.DepthwiseConv2D(k, strides, padding=padding, use_bias=False, name=f"{name}_conv_{i}")(part)
        )
    return layers.Concatenate(name=f"{name}_concat")(outputs)


def inverted_residual(
    x,
    filters,
    expanded_channels=None,
    kernel_size=3,
    strides=1,
    act="relu6",
    se_channels=None,
    se_act="relu",
    se_gate="sigmoid",
    expand_groups=1,
    project_groups=1,
    skip=True,
    style=TF_STYLE,
    name=None,
):
    """Inverted residual: [expand 1x1-BN-act] -> dw kxk-BN-act -> [SE] -> project 1x1-BN.

    expanded_channels: width after expansion; None (or the input width with no
        expansion wanted) skips the expansion conv, giving MobileNetV2's first
        block / MixNet's ``ds`` block.
    kernel_size: an int, or a tuple of ints for a mixed-kernel depthwise conv.
    se_channels: reduced width of the squeeze-excite; None for no SE.
    expand_groups / project_groups: grouped pointwise convs (MixNet).
    skip: add the input when stride is 1 and widths match (``{name}_add``).
    """
    shortcut = x
    in_channels = x.shape[-1]
    if expanded_channels is not None:
        x = conv_bn_act(x, expanded_channels, 1, groups=expand_groups, act=act, style=style, name=f"{name}_expand")
    kernel_sizes = kernel_size if isinstance(kernel_size, (tuple, list)) else (kernel_size,)
    x = mixed_depthwise(x, kernel_sizes, strides, style, name=f"{name}_dw")
    x = batch_norm(x, style, f"{name}_dw_bn")
    x = activation(x, act, f"{name}_dw_act")
    if se_channels:
        x = squeeze_excite(x, se_channels, se_act, se_gate, name=f"{name}_se")
    x = conv_bn_act(x, filters, 1, groups=project_groups, style=style, name=f"{name}_project")
    if skip and strides == 1 and in_channels == filters:
        x = layers.Add(name=f"{name}_add")([shortcut, x])
    return x
