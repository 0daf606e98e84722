"""Xception (Chollet 2017, "Xception: Deep Learning with Depthwise Separable Convolutions", Fig. 5).

Reference: keras.applications.Xception (Keras 3.15): a VALID-padded two-conv
stem, three downsampling entry blocks (128, 256, 728), eight identity middle
blocks (3 x 728), one downsampling exit block (728, 1024), two separable convs
(1536, 2048) with ReLU, global pool and a dense classifier; BatchNormalization
with Keras defaults; 299 px default input.
"""

from keras_mobile.backend import layers
from keras_mobile.blocks import ConvStyle, activation, batch_norm
from keras_mobile.blocks.xception import separable_conv_bn, xception_block
from keras_mobile.builder import FeatureMaps, model_builder, pooled_dense_top
from keras_mobile.pretrained.imagenet import ImagenetFile
from keras_mobile.registry import register_variants

STYLE = ConvStyle("same", 1e-3, 0.99)
ENTRY_FLOW = (128, 256, 728)
MIDDLE_BLOCKS = 8
MIN_RESOLUTION = 71


@model_builder
def Xception(options, dropout_rate=0.0):
    """Xception (paper default 299 px; any resolution >= 71 builds)."""
    model_input, x = options.inputs(MIN_RESOLUTION)
    features = FeatureMaps()
    x = _valid_conv_bn_relu(x, 32, 2, "stem1")
    x = features.add(_valid_conv_bn_relu(x, 64, 1, "stem2"), 2)
    for index, width in enumerate(ENTRY_FLOW, start=1):
        x = xception_block(x, (width, width), True, activate_first=index > 1, style=STYLE, name=f"entry{index}")
        features.add(x, 2)
    for index in range(1, MIDDLE_BLOCKS + 1):
        x = xception_block(x, (728, 728, 728), False, style=STYLE, name=f"middle{index}")
    x = features.add(xception_block(x, (728, 1024), True, style=STYLE, name="exit1"), 2)
    x = separable_conv_bn(x, 1536, STYLE, name="exit2_sep1")
    x = activation(x, "relu", "exit2_sep1_act")
    x = separable_conv_bn(x, 2048, STYLE, name="exit2_sep2")
    x = features.add(activation(x, "relu", "exit2_sep2_act"))
    return options.finish(model_input, x, features, pooled_dense_top(dropout_rate), "xception",
                          imagenet=ImagenetFile("xception"))


def _valid_conv_bn_relu(x, filters, strides, name):
    """The stem's unpadded 3x3 convs, as in the reference."""
    x = layers.Conv2D(filters, 3, strides=strides, padding="valid", use_bias=False, name=f"{name}_conv")(x)
    x = batch_norm(x, STYLE, f"{name}_bn")
    return activation(x, "relu", f"{name}_act")


_REFERENCE = "keras.applications.Xception (Keras 3.15), counted at 299 px"
register_variants(
    "xception",
    Xception,
    {"xception": {}},
    default_resolution=299,
    min_resolution=MIN_RESOLUTION,
    references={"xception": (22855952, 8357403496, _REFERENCE)},
)
