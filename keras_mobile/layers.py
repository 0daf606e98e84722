"""The two custom layers Keras lacks: channel shuffle and channel split.

Both are small, serializable, channels-last and strictly 4-D (TFLite's GPU
delegate and older converters reject 5-D reshapes/transposes). On Keras 3 they
use ``keras.ops`` (any backend); on tf_keras they use TensorFlow ops. Their
TF-MOT quantize configs live with the compression code.
"""

from keras_mobile.backend import IS_LEGACY_KERAS, keras, register_serializable
from keras_mobile.validation import check_int, fail

if IS_LEGACY_KERAS:
    import tensorflow as _tf

    def _shape(x):
        return _tf.shape(x)

    def _reshape(x, shape):
        return _tf.reshape(x, shape)

    def _transpose(x, perm):
        return _tf.transpose(x, perm)

    def _split(x, sizes):
        return _tf.split(x, sizes, axis=-1)

else:
    _ops = keras.ops

    def _shape(x):
        return _ops.shape(x)

    def _reshape(x, shape):
        return _ops.reshape(x, shape)

    def _transpose(x, perm):
        return _ops.transpose(x, perm)

    def _split(x, sizes):
        # keras.ops.split takes cut points, not sizes.
        cuts, total = [], 0
        for size in sizes[:-1]:
            total += size
            cuts.append(total)
        return _ops.split(x, cuts, axis=-1)


def _check_4d(layer, input_shape):
    if len(input_shape) != 4:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}' takes a 4-D channels-last "
            f"tensor (batch, height, width, channels); got shape {tuple(input_shape)}."
        )
    return int(input_shape[-1])


@register_serializable("ChannelShuffle")
class ChannelShuffle(keras.layers.Layer):
    """ShuffleNet's channel shuffle (Zhang et al. 2018, Sec. 3.1), 4-D only.

    Channels are viewed as ``(groups, channels // groups)``, transposed and
    flattened, so output channel ``j * groups + i`` is input channel
    ``i * (channels // groups) + j``. Implemented as reshape to
    ``(batch, height * width, groups, channels // groups)``, a 4-D transpose and
    a reshape back.
    """

    def __init__(self, groups, **kwargs):
        super().__init__(**kwargs)
        self.groups = check_int("ChannelShuffle groups", groups, minimum=1)

    def build(self, input_shape):
        channels = _check_4d(self, input_shape)
        if channels % self.groups:
            raise ValueError(
                f"ChannelShuffle '{self.name}': channels ({channels}) must be divisible "
                f"by groups ({self.groups})."
            )
        super().build(input_shape)

    def call(self, inputs):
        shape = _shape(inputs)
        height, width, channels = shape[1], shape[2], inputs.shape[-1]
        x = _reshape(inputs, (-1, height * width, self.groups, channels // self.groups))
        x = _transpose(x, (0, 1, 3, 2))
        return _reshape(x, (-1, height, width, channels))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}


@register_serializable("ChannelSplit")
class ChannelSplit(keras.layers.Layer):
    """Splits the channel axis into consecutive slices of the given sizes.

    Used by ShuffleNetV2's channel split (Ma et al. 2018, Fig. 3c), MixConv's
    per-kernel channel groups (Tan & Le 2019, Sec. 3) and ReXNet's partial
    residual. Returns a list with one tensor per size.
    """

    def __init__(self, sizes, **kwargs):
        super().__init__(**kwargs)
        sizes = list(sizes)
        if len(sizes) < 2 or any(
            not isinstance(s, int) or isinstance(s, bool) or s < 1 for s in sizes
        ):
            fail("ChannelSplit sizes", sizes, "a list of two or more positive ints")
        self.sizes = sizes

    def build(self, input_shape):
        channels = _check_4d(self, input_shape)
        if channels != sum(self.sizes):
            raise ValueError(
                f"ChannelSplit '{self.name}': sizes {self.sizes} sum to {sum(self.sizes)}, "
                f"but the input has {channels} channels."
            )
        super().build(input_shape)

    def call(self, inputs):
        return list(_split(inputs, self.sizes))

    def compute_output_shape(self, input_shape):
        return [tuple(input_shape[:-1]) + (size,) for size in self.sizes]

    def get_config(self):
        return {**super().get_config(), "sizes": list(self.sizes)}
