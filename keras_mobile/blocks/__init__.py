"""The block library: functions ``x -> x`` that emit stock Keras layers."""

from keras_mobile.blocks.conv import (  # noqa: F401
    ACTIVATIONS,
    TF_STYLE,
    TORCH_STYLE,
    ConvStyle,
    activation,
    batch_norm,
    conv,
    conv_bn_act,
    depthwise_bn_act,
    partial_residual_add,
    squeeze_excite,
)
from keras_mobile.blocks.mobile import depthwise_separable, inverted_residual, mixed_depthwise  # noqa: F401
from keras_mobile.blocks.fire import fire  # noqa: F401
from keras_mobile.blocks.shuffle import megvii_shuffle, pool_3x3_s2, shufflenet_v1_unit, shufflenet_v2_unit  # noqa: F401
from keras_mobile.blocks.xception import separable_conv_bn, xception_block  # noqa: F401
from keras_mobile.blocks.linear_bottleneck import linear_bottleneck  # noqa: F401
from keras_mobile.blocks.sandglass import identity_channels, sandglass, sandglass_layout  # noqa: F401
