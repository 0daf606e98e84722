"""MobileNetV1 (Howard et al. 2017, "MobileNets", Table 1).

Reference: keras.applications.MobileNet (Keras 3.15), itself from TF-slim
``mobilenet_v1.py``: widths are ``int(channels * alpha)`` with no rounding, BN
with Keras defaults, ReLU6, and a 1x1-conv classifier with bias.
"""

from keras_mobile.backend import layers
from keras_mobile.blocks import ConvStyle, conv_bn_act
from keras_mobile.builder import BlockRules, FeatureMaps, build_stages, model_builder
from keras_mobile.pretrained.imagenet import ImagenetFile
from keras_mobile.registry import register_variants
from keras_mobile.specs import parse_table
from keras_mobile.validation import check_int, check_number

# Table 1: the 13 depthwise-separable blocks (3x3 depthwise, activated 1x1 pointwise), one row per stride stage.
TABLE = parse_table([
    "dsa_r1_s1_c64",
    "dsa_r2_s2_c128",
    "dsa_r2_s2_c256",
    "dsa_r6_s2_c512",
    "dsa_r2_s2_c1024",
])
STYLE = ConvStyle("same", 1e-3, 0.99)  # keras.applications uses BatchNormalization's defaults
ALPHAS = (0.25, 0.5, 0.75, 1.0)


@model_builder
def MobileNet(options, alpha=1.0, depth_multiplier=1, dropout_rate=1e-3):
    """MobileNetV1. ``alpha`` scales every width; ``depth_multiplier`` the depthwise convs.

    Paper variants: alpha 0.25 / 0.5 / 0.75 / 1.0 at 128-224 px; any
    resolution of at least 32 px builds. Inputs follow the package convention (see ``keras_mobile.builder``).
    """
    alpha = check_number("alpha", alpha, 0.0, 4.0, low_open=True)
    depth_multiplier = check_int("depth_multiplier", depth_multiplier, minimum=1)
    if int(32 * alpha) < 1:
        raise ValueError(f"alpha={alpha} is not supported; accepted values: a number in [0.04, 4] (the stem needs "
                         "int(32 * alpha) >= 1 channels).")
    rules = BlockRules(round_filters=lambda c: int(c * alpha), act="relu6", depth_multiplier=depth_multiplier,
                       style=STYLE)
    model_input, x = options.inputs(32)
    features = FeatureMaps()
    x = features.add(conv_bn_act(x, int(32 * alpha), 3, 2, act="relu6", style=STYLE, name="stem"), 2)
    x = build_stages(x, TABLE, features, rules)

    def top(x, classes):
        x = layers.GlobalAveragePooling2D(keepdims=True, name="avg_pool")(x)
        x = layers.Dropout(dropout_rate, name="dropout")(x)
        x = layers.Conv2D(classes, 1, name="logits_conv")(x)
        return layers.Reshape((classes,), name="logits")(x)

    imagenet = ImagenetFile("mobilenet", alpha=alpha, depth_multiplier=depth_multiplier)
    return options.finish(model_input, x, features, top, f"mobilenetv1_{alpha:.2f}", imagenet=imagenet)


MobileNetV1 = MobileNet

_REFERENCE = "keras.applications.MobileNet (Keras 3.15), counted at 224 px"
register_variants(
    "mobilenetv1",
    MobileNet,
    {f"mobilenetv1_{int(a * 100):03d}": {"alpha": a} for a in ALPHAS},
    width_arg="alpha",
    references={
        "mobilenetv1_025": (470072, 41030272, _REFERENCE),
        "mobilenetv1_050": (1331592, 149497088, _REFERENCE),
        "mobilenetv1_075": (2585560, 325400448, _REFERENCE),
        "mobilenetv1_100": (4231976, 568740352, _REFERENCE),
    },
)
