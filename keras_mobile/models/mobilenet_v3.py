"""MobileNetV3 Large and Small (Howard et al. 2019, "Searching for MobileNetV3", Tables 1-2).

Reference: keras.applications.MobileNetV3Large/Small (Keras 3.15) / TF-slim
``mobilenet_v3.py``: widths ``make_divisible(c * alpha, 8)``, expansion width
``make_divisible(input width * ratio, 8)``, SE width ``make_divisible(expanded / 4, 8)``
with a ReLU and a hard-sigmoid gate, a 16-channel stem (never scaled), a
``6 * last width`` 1x1 conv, then pool -> 1x1 conv with bias (1280 / 1024)
-> activation -> dropout -> 1x1 conv logits. Minimalistic variants drop SE,
hard-swish and 5x5 kernels (3x3 and ReLU everywhere).
"""

import dataclasses

from keras_mobile.backend import layers
from keras_mobile.blocks import TF_STYLE, activation, conv_bn_act
from keras_mobile.builder import BlockRules, FeatureMaps, build_stages, model_builder
from keras_mobile.channels import make_divisible
from keras_mobile.pretrained.imagenet import ImagenetFile
from keras_mobile.validation import check_bool, check_choice, check_number
from keras_mobile.registry import register_variants
from keras_mobile.specs import parse_table

# Table 1 (Large) and Table 2 (Small); expansion is relative to the block's input width.
LARGE = parse_table([
    "ds_r1_k3_s1_c16_nrelu",
    "ir_r1_k3_s2_e4_c24_nrelu",
    "ir_r1_k3_s1_e3_c24_nrelu",
    "ir_r3_k5_s2_e3_c40_se0.25_nrelu",
    "ir_r1_k3_s2_e6_c80_nhswish",
    "ir_r1_k3_s1_e2.5_c80_nhswish",
    "ir_r2_k3_s1_e2.3_c80_nhswish",
    "ir_r2_k3_s1_e6_c112_se0.25_nhswish",
    "ir_r3_k5_s2_e6_c160_se0.25_nhswish",
])
SMALL = parse_table([
    "ds_r1_k3_s2_c16_se0.25_nrelu",
    "ir_r1_k3_s2_e72/16_c24_nrelu",
    "ir_r1_k3_s1_e88/24_c24_nrelu",
    "ir_r1_k5_s2_e4_c40_se0.25_nhswish",
    "ir_r2_k5_s1_e6_c40_se0.25_nhswish",
    "ir_r2_k5_s1_e3_c48_se0.25_nhswish",
    "ir_r3_k5_s2_e6_c96_se0.25_nhswish",
])
CONFIGS = {"large": (LARGE, 1280), "small": (SMALL, 1024)}
ALPHAS = (0.75, 1.0)


def _minimalistic(spec):
    return dataclasses.replace(spec, kernel_size=(3,), se_ratio=0.0, act="relu")


@model_builder
def MobileNetV3(options, model_type="large", alpha=1.0, minimalistic=False, dropout_rate=0.2):
    """MobileNetV3; ``model_type`` "large" or "small", paper widths ``alpha`` 0.75 / 1.0."""
    check_choice("model_type", model_type, tuple(CONFIGS))
    check_bool("minimalistic", minimalistic)
    alpha = check_number("alpha", alpha, 0.0, 4.0, low_open=True)
    table, last_point = CONFIGS[model_type]
    act = "relu" if minimalistic else "hard_swish"
    if minimalistic:
        table = tuple(_minimalistic(spec) for spec in table)
    rules = BlockRules(
        round_filters=lambda c: make_divisible(c * alpha, 8),
        expanded_width=lambda in_channels, spec: make_divisible(in_channels * spec.expansion, 8),
        se_width=lambda in_channels, expanded, spec: make_divisible(expanded * spec.se_ratio, 8),
        se_gate="hard_sigmoid",
        style=TF_STYLE,
    )
    model_input, x = options.inputs(32)
    features = FeatureMaps()
    x = features.add(conv_bn_act(x, 16, 3, 2, act=act, style=TF_STYLE, name="stem"), 2)
    x = build_stages(x, table, features, rules)
    x = conv_bn_act(x, make_divisible(x.shape[-1] * 6, 8), 1, act=act, style=TF_STYLE, name="head")
    if alpha > 1.0:
        last_point = make_divisible(last_point * alpha, 8)

    def top(x, classes):
        x = layers.GlobalAveragePooling2D(keepdims=True, name="avg_pool")(x)
        x = layers.Conv2D(last_point, 1, use_bias=True, name="head_point_conv")(x)
        x = activation(x, act, "head_point_act")
        if dropout_rate:
            x = layers.Dropout(dropout_rate, name="dropout")(x)
        x = layers.Conv2D(classes, 1, name="logits_conv")(x)
        return layers.Flatten(name="logits")(x)

    suffix = "_minimalistic" if minimalistic else ""
    imagenet = ImagenetFile("mobilenet_v3", alpha=alpha, model_type=model_type, minimalistic=minimalistic)
    name = f"mobilenetv3_{model_type}{suffix}_{alpha:.2f}"
    return options.finish(model_input, x, features, top, name, imagenet=imagenet)


def MobileNetV3Large(**kwargs):
    """MobileNetV3-Large (Table 1); see ``MobileNetV3`` for the arguments."""
    return MobileNetV3(model_type="large", **kwargs)


def MobileNetV3Small(**kwargs):
    """MobileNetV3-Small (Table 2); see ``MobileNetV3`` for the arguments."""
    return MobileNetV3(model_type="small", **kwargs)


_REFERENCE = "keras.applications.MobileNetV3Large/Small (Keras 3.15), counted at 224 px"
register_variants(
    "mobilenetv3",
    MobileNetV3,
    {
        f"mobilenetv3_{kind}{'_minimal' if minimal else ''}_{int(a * 100):03d}": {
            "model_type": kind, "alpha": a, "minimalistic": minimal,
        }
        for kind in ("large", "small")
        for minimal in (False, True)
        for a in ALPHAS
    },
    width_arg="alpha",
    references={
        "mobilenetv3_large_075": (3993528, 154560624, _REFERENCE),
        "mobilenetv3_large_100": (5483032, 216589760, _REFERENCE),
        "mobilenetv3_large_minimal_075": (3050312, 148802544, _REFERENCE),
        "mobilenetv3_large_minimal_100": (3924288, 209136704, _REFERENCE),
        "mobilenetv3_small_075": (2041872, 43399344, _REFERENCE),
        "mobilenetv3_small_100": (2542856, 56510400, _REFERENCE),
        "mobilenetv3_small_minimal_075": (1732512, 40072880, _REFERENCE),
        "mobilenetv3_small_minimal_100": (2044736, 52288448, _REFERENCE),
    },
)
