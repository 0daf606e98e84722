"""ReXNet's linear bottleneck (Han et al. 2021, "Rethinking Channel Dimensions for
Efficient Model Design", Sec. 4; timm ``rexnet.py`` ``LinearBottleneck``).

An inverted residual whose output is wider than its input: [1x1 expand-BN-SiLU]
-> depthwise 3x3-BN -> [SE with BN] -> ReLU6 -> 1x1 project-BN, and a *partial*
residual that adds the input to the first ``C_in`` output channels only. The SE
sits on the depthwise BN output, before the ReLU6, as in the official code.
"""

from keras_mobile.blocks.conv import (
    TORCH_STYLE,
    activation,
    conv_bn_act,
    depthwise_bn_act,
    partial_residual_add,
    squeeze_excite,
)


def linear_bottleneck(
    x,
    filters,
    expanded_channels=None,
    strides=1,
    se_channels=None,
    act="swish",
    dw_act="relu6",
    se_act="relu",
    style=TORCH_STYLE,
    name=None,
):
    """ReXNet block: layers ``{name}_expand_*``, ``{name}_dw_*``, ``{name}_se_*``,
    ``{name}_dw_act``, ``{name}_project_*``.

    expanded_channels: width after the 1x1 expansion; None for no expansion
        (ReXNet's first block).
    se_channels: reduced width of the squeeze-excite (1x1 convs with bias, BN
        and ``se_act`` between them, sigmoid gate); None for none.
    The shortcut (``{name}_split`` / ``_add`` / ``_concat``, or ``{name}_add`` at
    equal widths) is used when ``strides`` is 1 and ``filters`` >= the input width.
    """
    shortcut = x
    in_channels = x.shape[-1]
    if expanded_channels is not None:
        x = conv_bn_act(x, expanded_channels, 1, act=act, style=style, name=f"{name}_expand")
    x = depthwise_bn_act(x, 3, strides, None, style, name=f"{name}_dw")
    if se_channels:
        x = squeeze_excite(x, se_channels, se_act, "sigmoid", style=style, name=f"{name}_se")
    x = activation(x, dw_act, f"{name}_dw_act")
    x = conv_bn_act(x, filters, 1, style=style, name=f"{name}_project")
    if strides == 1 and in_channels <= filters:
        x = partial_residual_add(shortcut, x, name)
    return x
