"""MobileNeXt's sandglass block (Zhou et al. 2020, "Rethinking Bottleneck Structure
for Efficient Mobile Network Design", Fig. 3c / Table 1).

The sandglass block flips the inverted residual: depthwise 3x3 on the wide
input, a linear 1x1 *reduction*, a 1x1 expansion back to the wide width, a
second (linear) depthwise 3x3 carrying the stride, and the shortcut between
the two wide ends. The official code (yitu-opensource/MobileNeXt ``SGBlock``)
drops one or both depthwise convs at width changes; ``leading_depthwise`` /
``trailing_depthwise`` express those variants.

The identity tensor multiplier (Sec. 3.3) adds the shortcut to only the first
``round(channels * multiplier)`` channels; the remaining channels are the
block's own output. Built as ChannelSplit of the shortcut, then
``partial_residual_add`` (split -> Add -> Concatenate) on the output.
"""

import math

from keras_mobile.blocks.conv import TORCH_STYLE, conv_bn_act, depthwise_bn_act, partial_residual_add
from keras_mobile.channels import make_divisible
from keras_mobile.validation import check_number


def sandglass_layout(in_channels, filters, strides, reduction, keep_3x3):
    """The official ``SGBlock`` branch for one block, as ``sandglass`` keyword arguments.

    reduction: Table 1's ``t`` (hidden width ``in_channels // t``, raised to
    ``make_divisible(ceil(filters / 6), 16)`` when below ``filters / 6``);
    keep_3x3: True for the first block of a single-block stride-1 stage. The
    official code takes one of four shapes: both depthwise convs and no
    residual when t = 2; neither at a stride-1 width change; only the trailing
    (strided) one at a stride-2 width change; else the full sandglass, whose
    stride it ignores (always 1), with a residual unless ``keep_3x3``.
    """
    hidden = in_channels // reduction
    if hidden < filters / 6.0:
        hidden = make_divisible(math.ceil(filters / 6.0), 16)
    layout = dict(reduced_channels=hidden, strides=strides)
    if reduction == 2:
        layout.update(leading_depthwise=True, trailing_depthwise=True, residual=False)
    elif in_channels != filters and strides == 1 and not keep_3x3:
        layout.update(leading_depthwise=False, trailing_depthwise=False, residual=False)
    elif in_channels != filters and strides == 2 and not keep_3x3:
        layout.update(leading_depthwise=False, trailing_depthwise=True, residual=False)
    else:
        layout.update(leading_depthwise=True, trailing_depthwise=True, residual=not keep_3x3, strides=1)
    return layout


def identity_channels(channels, multiplier):
    """Channels that receive the shortcut: ``int(round(channels * multiplier))``.

    The rule of the public MobileNeXt re-implementations
    (``SandGlass(..., identity_tensor_multiplier)``); the official ``SGBlock``
    uses ``channels // identity_div`` with ``identity_div = 1`` (all channels).
    Raises ValueError unless ``multiplier`` is in (0, 1] and at least one
    channel is added.
    """
    check_number("identity_tensor_multiplier", multiplier, 0.0, 1.0, low_open=True)
    count = int(round(channels * multiplier))
    if count < 1:
        raise ValueError(
            f"identity_tensor_multiplier={multiplier!r} adds round({channels} * {multiplier}) = {count} channels "
            f"of a {channels}-channel shortcut; accepted values: a number in (0, 1] with "
            f"round(channels * multiplier) >= 1 (here >= {0.5 / channels:.4g})."
        )
    return count


def sandglass(
    x,
    filters,
    reduced_channels,
    strides=1,
    leading_depthwise=True,
    trailing_depthwise=True,
    residual=True,
    identity_multiplier=1.0,
    act="relu6",
    style=TORCH_STYLE,
    name=None,
):
    """Sandglass block: [dw 3x3-BN-act] -> 1x1 reduce-BN -> 1x1 expand-BN-act -> [dw 3x3 stride-BN].

    Layers: ``{name}_dw1_*`` (leading depthwise), ``{name}_reduce_*`` (linear),
    ``{name}_expand_*``, ``{name}_dw2_*`` (trailing depthwise, linear, carries
    ``strides``), then the shortcut: ``{name}_add`` for a full residual, or
    ``{name}_identity_split`` + ``{name}_split`` / ``_add`` / ``_concat`` when
    ``identity_multiplier`` < 1.

    residual: add the input (requires stride 1 and ``filters`` == input width).
    identity_multiplier: fraction of channels that receive the shortcut
        (paper Sec. 3.3; 1.0 = plain residual as in the official code).
    """
    in_channels = x.shape[-1]
    if strides != 1 and not trailing_depthwise:
        raise ValueError(f"sandglass '{name}': strides={strides} needs the trailing depthwise conv.")
    if residual and (strides != 1 or in_channels != filters):
        raise ValueError(
            f"sandglass '{name}': a residual needs stride 1 and equal widths; got strides={strides}, "
            f"{in_channels} -> {filters} channels."
        )
    shortcut = x
    if leading_depthwise:
        x = depthwise_bn_act(x, 3, 1, act, style, name=f"{name}_dw1")
    x = conv_bn_act(x, reduced_channels, 1, style=style, name=f"{name}_reduce")
    x = conv_bn_act(x, filters, 1, act=act, style=style, name=f"{name}_expand")
    if trailing_depthwise:
        x = depthwise_bn_act(x, 3, strides, None, style, name=f"{name}_dw2")
    if residual:
        added = identity_channels(in_channels, identity_multiplier)
        if added < in_channels:
            from keras_mobile.layers import ChannelSplit

            shortcut, _ = ChannelSplit([added, in_channels - added], name=f"{name}_identity_split")(shortcut)
        x = partial_residual_add(shortcut, x, name)
    return x
