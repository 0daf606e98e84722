"""ShuffleNet units (ShuffleNetV1: Zhang et al. 2018; ShuffleNetV2: Ma et al. 2018).

Both units emit stock Keras layers plus the package's ``ChannelShuffle`` /
``ChannelSplit``. Padding and BN follow ``style`` (``TORCH_STYLE`` for the
PyTorch references these are ported from).

Channel-shuffle orders. ``ChannelShuffle(groups=G)`` views the channels as
``(G, C // G)`` and transposes: output ``j * G + i`` is input
``i * (C // G) + j``. That is torchvision's ``channel_shuffle`` (ShuffleNetV2).
The official megvii ShuffleNetV1 code views the channels as ``(C // g, g)``
instead (output ``b * (C // g) + a`` is input ``a * g + b``), which is the
inverse permutation, i.e. ``ChannelShuffle(groups=C // g)``; the V1 unit uses
that so megvii weights port unchanged.
"""

from keras_mobile.backend import layers
from keras_mobile.blocks.conv import TORCH_STYLE, activation, conv_bn_act, depthwise_bn_act
from keras_mobile.layers import ChannelShuffle, ChannelSplit


def pool_3x3_s2(x, kind="max", style=TORCH_STYLE, name=None):
    """3x3/2 ``kind`` ("max" or "avg") pooling padded 1 on every side, as PyTorch's ``padding=1``.

    Symmetric style: ``ZeroPadding2D(1)`` (``{name}_pad``) + a VALID pool
    (``{name}``). For "avg" this divides by 9 at the borders, PyTorch's
    ``count_include_pad=True``; for "max" zero padding equals PyTorch's -inf
    padding only on inputs >= 0, which is where ShuffleNets use it (after ReLU).
    TF style: a SAME pool.
    """
    pool = {"max": layers.MaxPooling2D, "avg": layers.AveragePooling2D}[kind]
    if style.padding == "same":
        return pool(3, 2, padding="same", name=name)(x)
    x = layers.ZeroPadding2D(1, name=f"{name}_pad")(x)
    return pool(3, 2, padding="valid", name=name)(x)


def megvii_shuffle(x, groups, name):
    """The official ShuffleNetV1 channel shuffle: ``reshape(C // g, g)`` -> transpose.

    Output channel ``b * (C // g) + a`` is input channel ``a * g + b``: the
    inverse of ``ChannelShuffle(groups=g)``, built as ``ChannelShuffle(C // g)``.
    """
    channels = x.shape[-1]
    if channels % groups:
        raise ValueError(f"{name}: channels ({channels}) must be divisible by groups ({groups}).")
    return ChannelShuffle(channels // groups, name=name)(x)


def shufflenet_v1_unit(
    x, filters, groups, strides=1, first_group=False, mid_channels=None, style=TORCH_STYLE, name=None
):
    """ShuffleNetV1 unit as in the official megvii code (``ShuffleNetV1/blocks.py``).

    1x1 group conv (``{name}_pw1``, groups 1 if ``first_group``) -> BN -> ReLU
    -> 3x3 depthwise (``{name}_dw``, stride ``strides``) -> BN (no activation)
    -> channel shuffle (``{name}_shuffle``, only when ``groups > 1``) -> 1x1
    group conv (``{name}_pw2``) -> BN. Stride 1: ``ReLU(main + x)``
    (``{name}_add``, ``{name}_act``). Stride 2: the main branch emits
    ``filters - in_channels`` channels and the output is
    ``concat([AvgPool3x3/2(x), ReLU(main)])`` (``{name}_shortcut_pool``,
    ``{name}_concat``), pooled shortcut first.

    Differences from the paper (Fig. 2b/c): the official code shuffles AFTER the
    depthwise conv + BN (the paper places the shuffle right after the first
    group conv) and with the inverse of the paper's permutation (see
    ``megvii_shuffle``). Moving the shuffle across the per-channel depthwise
    conv + BN only permutes their weights, and both permutations send every
    group's channels to every group, but only this placement and order load
    the official weights unchanged.

    filters: the unit's output channels. mid_channels: bottleneck width,
        default ``filters // 4`` (the official rule, also for stride-2 units).
    The stride-2 shortcut is ``pool_3x3_s2(..., "avg")``: PyTorch's
    ``AvgPool2d(3, 2, 1)`` with ``count_include_pad=True`` under symmetric padding.
    """
    in_channels = x.shape[-1]
    mid = filters // 4 if mid_channels is None else mid_channels
    if strides not in (1, 2):
        raise ValueError(f"{name}: strides={strides!r} is not supported; accepted values: [1, 2].")
    outputs = filters - in_channels if strides == 2 else filters
    if strides == 1 and in_channels != filters:
        raise ValueError(f"{name}: a stride-1 unit needs in_channels == filters; got {in_channels} and {filters}.")
    first_groups = 1 if first_group else groups
    for what, value, divisor in (
        ("input channels", in_channels, first_groups),
        ("mid_channels", mid, groups),
        ("main-branch output channels", outputs, groups),
    ):
        if value < 1 or value % divisor:
            raise ValueError(f"{name}: {what} ({value}) must be a positive multiple of groups ({divisor}).")

    shortcut = x
    x = conv_bn_act(x, mid, 1, groups=first_groups, act="relu", style=style, name=f"{name}_pw1")
    x = depthwise_bn_act(x, 3, strides, None, style, name=f"{name}_dw")
    if groups > 1:
        x = megvii_shuffle(x, groups, f"{name}_shuffle")
    x = conv_bn_act(x, outputs, 1, groups=groups, style=style, name=f"{name}_pw2")
    if strides == 1:
        x = layers.Add(name=f"{name}_add")([x, shortcut])
        return activation(x, "relu", f"{name}_act")
    shortcut = pool_3x3_s2(shortcut, "avg", style, name=f"{name}_shortcut_pool")
    x = activation(x, "relu", f"{name}_act")
    return layers.Concatenate(name=f"{name}_concat")([shortcut, x])


def _v2_branch(x, filters, strides, style, name):
    """pw 1x1-BN-ReLU (``{name}_pw1``) -> dw 3x3-BN (``{name}_dw``) -> pw 1x1-BN-ReLU (``{name}_pw2``)."""
    x = conv_bn_act(x, filters, 1, act="relu", style=style, name=f"{name}_pw1")
    x = depthwise_bn_act(x, 3, strides, None, style, name=f"{name}_dw")
    return conv_bn_act(x, filters, 1, act="relu", style=style, name=f"{name}_pw2")


def shufflenet_v2_unit(x, filters, strides=1, style=TORCH_STYLE, name=None):
    """ShuffleNetV2 unit as in torchvision's ``InvertedResidual`` (Ma et al. 2018, Fig. 3c/d).

    Stride 1 (Fig. 3c): ``ChannelSplit`` into halves (``{name}_split``); the
    first half passes unchanged, the second goes through the branch
    (``{name}_pw1``, ``{name}_dw``, ``{name}_pw2``). Stride 2 (Fig. 3d): both
    branches see the whole input; the left one is dw 3x3/2-BN
    (``{name}_proj_dw``) -> pw 1x1-BN-ReLU (``{name}_proj_pw``). Then
    ``Concatenate`` (left first, ``{name}_concat``) and
    ``ChannelShuffle(2)`` (``{name}_shuffle``), torchvision's order: the two
    halves are interleaved, output ``2k`` is left ``k`` and ``2k + 1`` right ``k``.

    filters: output channels (each branch emits ``filters // 2``).
    """
    in_channels = x.shape[-1]
    branch = filters // 2
    if strides not in (1, 2):
        raise ValueError(f"{name}: strides={strides!r} is not supported; accepted values: [1, 2].")
    if strides == 1:
        if filters % 2 or in_channels != filters:
            raise ValueError(
                f"{name}: a stride-1 unit needs an even filters equal to its input channels; "
                f"got filters={filters}, input channels {in_channels}."
            )
        left, right = ChannelSplit([branch, branch], name=f"{name}_split")(x)
    else:
        left = depthwise_bn_act(x, 3, strides, None, style, name=f"{name}_proj_dw")
        left = conv_bn_act(left, branch, 1, act="relu", style=style, name=f"{name}_proj_pw")
        right = x
    right = _v2_branch(right, branch, strides, style, name)
    x = layers.Concatenate(name=f"{name}_concat")([left, right])
    return ChannelShuffle(2, name=f"{name}_shuffle")(x)
