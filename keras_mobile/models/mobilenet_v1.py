"""MobileNetV1 (Howard et al. 2017, "MobileNets", Table 1).

Reference: keras.applications.MobileNet (Keras 3.15), itself from TF-slim
``mobilenet_v1.py``: widths are ``int(channels * alpha)`` with no rounding, BN
with Keras defaults, ReLU6, and a 1x1-conv classifier with bias.
"""

from keras_mobile.backend import layers
from keras_mobile.blocks import ConvStyle, conv_bn_act, depthwise_separable
from keras_mobile.builder import FeatureMaps, assemble, check_positive_int, check_width, model_inputs
from keras_mobile.registry import register_variants

# Table 1: (output channels, stride) of the 13 depthwise-separable blocks, grouped by stride stage.
BLOCKS = (
    ((64, 1),),
    ((128, 2), (128, 1)),
    ((256, 2), (256, 1)),
    ((512, 2),) + ((512, 1),) * 5,
    ((1024, 2), (1024, 1)),
)
STYLE = ConvStyle("same", 1e-3, 0.99)  # keras.applications uses BatchNormalization's defaults


def MobileNet(
    input_shape=None,
    alpha=1.0,
    depth_multiplier=1,
    include_top=True,
    weights=None,
    input_tensor=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    dropout_rate=1e-3,
    include_preprocessing=True,
    features_only=False,
    name=None,
):
    """MobileNetV1. ``alpha`` scales every width; ``depth_multiplier`` the depthwise convs.

    Paper variants: alpha 0.25 / 0.5 / 0.75 / 1.0 at 128-224 px; any resolution
    >= 32 builds. Inputs follow the package convention (see ``keras_mobile.builder``).
    """
    alpha = check_width("alpha", alpha)
    depth_multiplier = check_positive_int("depth_multiplier", depth_multiplier)
    if int(32 * alpha) < 1:
        raise ValueError(f"alpha={alpha} leaves the stem with no channels; accepted values: a number in [0.04, 4].")
    model_input, x = model_inputs(input_shape, input_tensor, 32, include_preprocessing)
    features = FeatureMaps()
    x = features.add(conv_bn_act(x, int(32 * alpha), 3, 2, act="relu6", style=STYLE, name="stem"), 2)
    for stage, blocks in enumerate(BLOCKS, start=1):
        for index, (filters, stride) in enumerate(blocks, start=1):
            x = depthwise_separable(
                x, int(filters * alpha), stride, "relu6", STYLE, depth_multiplier, name=f"stage{stage}_block{index}"
            )
            features.add(x, stride)

    def top(x, classes):
        x = layers.GlobalAveragePooling2D(keepdims=True, name="avg_pool")(x)
        x = layers.Dropout(dropout_rate, name="dropout")(x)
        x = layers.Conv2D(classes, 1, name="logits_conv")(x)
        return layers.Reshape((classes,), name="logits")(x)

    return assemble(
        model_input, x, features, top=top, include_top=include_top, pooling=pooling, classes=classes,
        classifier_activation=classifier_activation, features_only=features_only, weights=weights,
        name=name or f"mobilenet_{alpha:.2f}",
    )


_REFERENCE = "keras.applications.MobileNet (Keras 3.15), counted at 224 px"
register_variants(
    "mobilenetv1",
    MobileNet,
    {f"mobilenetv1_{int(a * 100):03d}": {"alpha": a} for a in (0.25, 0.5, 0.75, 1.0)},
    references={
        "mobilenetv1_025": (470072, 41030272, _REFERENCE),
        "mobilenetv1_050": (1331592, 149497088, _REFERENCE),
        "mobilenetv1_075": (2585560, 325400448, _REFERENCE),
        "mobilenetv1_100": (4231976, 568740352, _REFERENCE),
    },
)
