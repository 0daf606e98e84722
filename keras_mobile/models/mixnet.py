"""MixNet S / M / L (Tan & Le 2019, "MixConv", Fig. 8 / Appendix).

Reference: timm ``efficientnet.py`` ``_gen_mixnet_s`` / ``_gen_mixnet_m``
(mixnet_l = mixnet_m with channel multiplier 1.3) and its block library:
output and stem widths ``make_divisible(c * multiplier, 8)``, expansion width
``make_divisible(input * e, 8)``, SE width ``round(expanded * ratio / e)``
(relative to the block input) with the block's activation and a sigmoid gate,
mixed-kernel depthwise convs split with the remainder to the first group,
``a2`` / ``p2`` = 2-group expansion / projection 1x1 convs, a 1536-channel
head (never scaled), PyTorch padding and BatchNorm. timm figures at 224 px:
mixnet_s 4,134,606 params / 239.17M Mult-Adds (the paper's 256M counts more
than convolutions and dense layers).
"""

from keras_mobile.blocks import TORCH_STYLE, conv_bn_act
from keras_mobile.builder import BlockRules, FeatureMaps, build_stages, model_builder, pooled_dense_top
from keras_mobile.channels import make_divisible
from keras_mobile.registry import register_variants
from keras_mobile.specs import parse_table
from keras_mobile.validation import check_choice, check_number

NORMALIZATION = "imagenet"  # the reference was trained on ImageNet mean / std input (timm / torchvision / official code)

SMALL = parse_table([
    "ds_r1_k3_s1_c16",
    "ir_r1_k3_a2_p2_s2_e6_c24",
    "ir_r1_k3_a2_p2_s1_e3_c24",
    "ir_r1_k3.5.7_s2_e6_c40_se0.5_nswish",
    "ir_r3_k3.5_a2_p2_s1_e6_c40_se0.5_nswish",
    "ir_r1_k3.5.7_p2_s2_e6_c80_se0.25_nswish",
    "ir_r2_k3.5_p2_s1_e6_c80_se0.25_nswish",
    "ir_r1_k3.5.7_a2_p2_s1_e6_c120_se0.5_nswish",
    "ir_r2_k3.5.7.9_a2_p2_s1_e3_c120_se0.5_nswish",
    "ir_r1_k3.5.7.9.11_s2_e6_c200_se0.5_nswish",
    "ir_r2_k3.5.7.9_p2_s1_e6_c200_se0.5_nswish",
])
MEDIUM = parse_table([
    "ds_r1_k3_s1_c24",
    "ir_r1_k3.5.7_a2_p2_s2_e6_c32",
    "ir_r1_k3_a2_p2_s1_e3_c32",
    "ir_r1_k3.5.7.9_s2_e6_c40_se0.5_nswish",
    "ir_r3_k3.5_a2_p2_s1_e6_c40_se0.5_nswish",
    "ir_r1_k3.5.7_s2_e6_c80_se0.25_nswish",
    "ir_r3_k3.5.7.9_a2_p2_s1_e6_c80_se0.25_nswish",
    "ir_r1_k3_s1_e6_c120_se0.5_nswish",
    "ir_r3_k3.5.7.9_a2_p2_s1_e3_c120_se0.5_nswish",
    "ir_r1_k3.5.7.9_s2_e6_c200_se0.5_nswish",
    "ir_r3_k3.5.7.9_p2_s1_e6_c200_se0.5_nswish",
])
# variant -> (table, stem width, channel multiplier)
VARIANTS = {"s": (SMALL, 16, 1.0), "m": (MEDIUM, 24, 1.0), "l": (MEDIUM, 24, 1.3)}
HEAD_CHANNELS = 1536


@model_builder
def MixNet(options, variant="s", width=None, dropout_rate=0.0):
    """MixNet; ``variant`` is "s", "m" or "l" (timm's default dropout is 0; the paper trained with 0.2/0.25).

    width: channel multiplier, None for the variant's (1.0 for S and M, 1.3 for
    L = M x 1.3); any number in (0, 4] builds, as timm's ``channel_multiplier``.
    """
    check_choice("variant", variant, tuple(VARIANTS))
    table, stem, multiplier = VARIANTS[variant]
    if width is not None:
        multiplier = check_number("width", width, 0.0, 4.0, low_open=True)
    rules = BlockRules(
        round_filters=lambda c: make_divisible(c * multiplier, 8),
        expanded_width=lambda in_channels, spec: make_divisible(in_channels * spec.expansion, 8),
        se_width=lambda in_channels, expanded, spec: round(expanded * spec.se_ratio / spec.expansion),
        act="relu",
        se_act=None,
        style=TORCH_STYLE,
    )
    model_input, x = options.inputs(32, normalization=NORMALIZATION)
    features = FeatureMaps()
    x = features.add(conv_bn_act(x, rules.round_filters(stem), 3, 2, act="relu", style=TORCH_STYLE, name="stem"), 2)
    x = build_stages(x, table, features, rules)
    x = conv_bn_act(x, HEAD_CHANNELS, 1, act="relu", style=TORCH_STYLE, name="head")
    name = f"mixnet_{variant}" if width is None else f"mixnet_{variant}_{multiplier:.2f}"
    return options.finish(model_input, x, features, pooled_dense_top(dropout_rate), name)


def MixNetS(**kwargs):
    """MixNet-S (Fig. 8); see ``MixNet`` for the arguments."""
    return MixNet(variant="s", **kwargs)


def MixNetM(**kwargs):
    """MixNet-M (Fig. 8); see ``MixNet`` for the arguments."""
    return MixNet(variant="m", **kwargs)


def MixNetL(**kwargs):
    """MixNet-L (MixNet-M at width 1.3); see ``MixNet`` for the arguments."""
    return MixNet(variant="l", **kwargs)


_TIMM = "timm efficientnet.py _gen_mixnet_s/_gen_mixnet_m (timm 1.0.31)"
register_variants(
    "mixnet",
    MixNet,
    {f"mixnet_{v}": {"variant": v} for v in VARIANTS},
    normalization=NORMALIZATION,
    width_arg="width",
    references={
        "mixnet_s": (4134606, 239173360, _TIMM),
        "mixnet_m": (5014382, 339172672, _TIMM),
        "mixnet_l": (7329252, 555251792, _TIMM),
    },
)
