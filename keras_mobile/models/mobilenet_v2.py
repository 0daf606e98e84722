"""MobileNetV2 (Sandler et al. 2018, "MobileNetV2", Table 2).

Reference: keras.applications.MobileNetV2 (Keras 3.15) / TF-slim
``mobilenet_v2.py``: block widths ``make_divisible(int(c * alpha), 8)``,
expansion width ``t * input width`` (unrounded), stem
``make_divisible(32 * alpha, 8)``, head 1280 (scaled only when alpha > 1),
BN epsilon 1e-3 / momentum 0.999, ReLU6, global pool + dense classifier.
"""

from keras_mobile.blocks import TF_STYLE, conv_bn_act
from keras_mobile.builder import BlockRules, FeatureMaps, build_stages, model_builder, pooled_dense_top
from keras_mobile.channels import make_divisible
from keras_mobile.pretrained.imagenet import ImagenetFile
from keras_mobile.validation import check_number
from keras_mobile.registry import register_variants
from keras_mobile.specs import parse_table

# Table 2 rows (t = expansion, c = channels, n = repeats, s = stride).
TABLE = parse_table([
    "ds_r1_k3_s1_c16",
    "ir_r2_k3_s2_e6_c24",
    "ir_r3_k3_s2_e6_c32",
    "ir_r4_k3_s2_e6_c64",
    "ir_r3_k3_s1_e6_c96",
    "ir_r3_k3_s2_e6_c160",
    "ir_r1_k3_s1_e6_c320",
])
ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)


@model_builder
def MobileNetV2(options, alpha=1.0, dropout_rate=0.0):
    """MobileNetV2; paper widths ``alpha`` in 0.35, 0.5, 0.75, 1.0, 1.3, 1.4 (any in (0, 4] builds)."""
    alpha = check_number("alpha", alpha, 0.0, 4.0, low_open=True)
    rules = BlockRules(
        round_filters=lambda c: make_divisible(int(c * alpha), 8),
        expanded_width=lambda in_channels, spec: int(in_channels * spec.expansion),
        act="relu6",
        style=TF_STYLE,
    )
    model_input, x = options.inputs(32)
    features = FeatureMaps()
    x = features.add(conv_bn_act(x, make_divisible(32 * alpha, 8), 3, 2, act="relu6", style=TF_STYLE, name="stem"), 2)
    x = build_stages(x, TABLE, features, rules)
    head = make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
    x = conv_bn_act(x, head, 1, act="relu6", style=TF_STYLE, name="head")
    return options.finish(model_input, x, features, pooled_dense_top(dropout_rate), f"mobilenetv2_{alpha:.2f}",
                          imagenet=ImagenetFile("mobilenet_v2", alpha=alpha))


_REFERENCE = "keras.applications.MobileNetV2 (Keras 3.15), counted at 224 px"
register_variants(
    "mobilenetv2",
    MobileNetV2,
    {f"mobilenetv2_{int(round(a * 100)):03d}": {"alpha": a} for a in ALPHAS},
    width_arg="alpha",
    references={
        "mobilenetv2_035": (1677128, 59285808, _REFERENCE),
        "mobilenetv2_050": (1968680, 97131840, _REFERENCE),
        "mobilenetv2_075": (2636424, 209069792, _REFERENCE),
        "mobilenetv2_100": (3504872, 300774272, _REFERENCE),
        "mobilenetv2_130": (5386792, 509374560, _REFERENCE),
        "mobilenetv2_140": (6108776, 582195824, _REFERENCE),
    },
)
