"""Per-image ops of the input pipeline: crop windows, decoding, resizing, normalisation.

JPEG decoding dominates the cost of an image pipeline, so crops are chosen
from the shape in the JPEG header (`tf.image.extract_jpeg_shape`) and only
that window is decoded (`tf.image.decode_and_crop_jpeg`); a window at least
twice the output size is decoded at 1/2, 1/4 or 1/8 scale inside the JPEG
decoder (its DCT scaling), never below the output size. Other formats (PNG in
CIFAR, GIF, BMP) take a generic path: full decode, then the same crop.
A window is `[offset_y, offset_x, height, width]` (int32), in pixels of the
full-size image.

Images leave this module as float32 in [0, 255] (the bilinear resize makes
floats anyway) and are normalised per image: rounding them back to uint8 for
batching cost more than the smaller batches saved (see docs/data.md).
"""

import numpy as np
import tensorflow as tf

IMAGENET_MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
IMAGENET_STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)
# name -> (mean, std) applied to [0, 255] pixels, or None to keep [0, 255].
NORMALIZATIONS = {
    "imagenet": (IMAGENET_MEAN, IMAGENET_STD),
    "inception": ((127.5,) * 3, (127.5,) * 3),  # [-1, 1]
    "raw": None,  # For models that preprocess inside the graph.
}

AREA_RANGE = (0.08, 1.0)
ASPECT_RATIO_RANGE = (3 / 4, 4 / 3)
MAX_ATTEMPTS = 10


def center_crop_window(shape, fraction):
    """Centred square window whose side is `fraction` of the shorter side."""
    shape = tf.cast(shape, tf.int32)
    side = tf.cast(fraction * tf.cast(tf.reduce_min(shape), tf.float32), tf.int32)
    side = tf.maximum(side, 1)
    offset_y = (shape[0] - side + 1) // 2
    offset_x = (shape[1] - side + 1) // 2
    return tf.stack([offset_y, offset_x, side, side])


def random_crop_window(
    shape,
    seed,
    *,
    area_range=AREA_RANGE,
    aspect_ratio_range=ASPECT_RATIO_RANGE,
    fallback_fraction=0.875,
):
    """Inception-style random window of an image of `shape` ([height, width]).

    Area is a fraction of the image in `area_range`, width/height in
    `aspect_ratio_range`. When no window fits in `MAX_ATTEMPTS` tries, the
    sampler returns the whole image: we keep it when the whole image is
    itself such a window (area range up to 1, its aspect ratio in range; so
    `area_range=(1, 1)` crops nothing from such images), else we use a
    centre crop of `fallback_fraction`. `seed` is a stateless seed of shape [2].
    """
    shape = tf.cast(shape, tf.int32)
    begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.concat([shape, [3]], axis=0),
        bounding_boxes=tf.constant([[[0.0, 0.0, 1.0, 1.0]]]),
        seed=seed,
        min_object_covered=0.0,
        aspect_ratio_range=aspect_ratio_range,
        area_range=area_range,
        max_attempts=MAX_ATTEMPTS,
        use_image_if_no_bounding_boxes=True,
    )
    window = tf.concat([begin[:2], size[:2]], axis=0)

    def whole_image_or_centre():  # Only on the rare whole-image result.
        if area_range[1] < 1.0:
            return center_crop_window(shape, fallback_fraction)
        aspect = tf.cast(shape[1], tf.float32) / tf.cast(shape[0], tf.float32)
        fits = tf.logical_and(aspect >= aspect_ratio_range[0] * (1 - 1e-6),
                              aspect <= aspect_ratio_range[1] * (1 + 1e-6))
        return tf.where(fits, window, center_crop_window(shape, fallback_fraction))

    whole_image = tf.reduce_all(tf.equal(size[:2], shape))
    return tf.cond(whole_image, whole_image_or_centre, lambda: window)


DCT_SCALES = (1, 2, 4, 8)  # The scales libjpeg decodes at: 1/1, 1/2, 1/4, 1/8.


def decode_window(encoded, window_fn, fused=True, min_size=None):
    """Decodes the window `window_fn(shape)` of an encoded image as uint8 RGB.

    JPEG bytes are decoded inside the window only; other formats, or every
    format with `fused=False`, are fully decoded and then cropped. With
    `min_size`, a JPEG window is decoded at the smallest scale of `DCT_SCALES`
    that keeps both its sides at least `min_size` pixels (so at full size
    when the window is smaller than twice `min_size`).
    """

    def jpeg():
        shape = tf.image.extract_jpeg_shape(encoded, output_type=tf.int32)[:2]
        window = window_fn(shape)
        if min_size is None:
            return tf.image.decode_and_crop_jpeg(encoded, window, channels=3)
        return _decode_scaled(encoded, shape, window, min_size)

    def full():
        image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
        window = window_fn(tf.shape(image)[:2])
        return tf.slice(image, [window[0], window[1], 0], [window[2], window[3], 3])

    image = tf.cond(tf.io.is_jpeg(encoded), jpeg, full) if fused else full()
    image.set_shape([None, None, 3])
    return image


def _decode_scaled(encoded, shape, window, min_size):
    """`decode_and_crop_jpeg` at the smallest DCT scale keeping `min_size`."""
    shorter = tf.minimum(window[2], window[3])
    index = tf.reduce_sum(tf.cast(
        shorter >= tf.constant([min_size * s for s in DCT_SCALES[1:]], tf.int32), tf.int32))

    def at_scale(scale):
        def decode():
            if scale == 1:
                return tf.image.decode_and_crop_jpeg(encoded, window, channels=3)
            # libjpeg's output is ceil(side / scale); the window is given in it.
            scaled_shape = (shape + scale - 1) // scale
            top_left = window[:2] // scale
            bottom_right = tf.minimum((window[:2] + window[2:]) // scale, scaled_shape)
            return tf.image.decode_and_crop_jpeg(
                encoded, tf.concat([top_left, bottom_right - top_left], 0),
                channels=3, ratio=scale)
        return decode

    return tf.switch_case(index, [at_scale(s) for s in DCT_SCALES])


def resize(image, image_size):
    """Bilinear resize to [size, size, 3] (float32, values in [0, 255])."""
    return tf.image.resize(image, [image_size, image_size], method="bilinear")


def to_uint8(images):
    """Rounds [0, 255] floats to uint8 (for compact caches)."""
    return tf.saturate_cast(tf.round(images), tf.uint8)


def train_image(encoded, seed, image_size, fallback_fraction, fused=True, *,
                area_range=AREA_RANGE, aspect_ratio_range=ASPECT_RATIO_RANGE):
    """Random-resized crop and random flip: float32 [size, size, 3] in [0, 255].

    `seed` is a stateless seed of shape [2]; the crop ranges are those of
    `random_crop_window`; `fused=False` (full decode, then crop) exists for
    comparisons.
    """
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    image = decode_window(
        encoded,
        lambda shape: random_crop_window(
            shape, crop_seed, area_range=area_range,
            aspect_ratio_range=aspect_ratio_range, fallback_fraction=fallback_fraction,
        ),
        fused=fused,
        min_size=image_size if fused else None,
    )
    return tf.image.stateless_random_flip_left_right(resize(image, image_size), flip_seed)


def eval_image(encoded, image_size, crop_fraction):
    """Centre crop at `crop_fraction`, resized: float32 [size, size, 3] in [0, 255]."""
    image = decode_window(
        encoded, lambda shape: center_crop_window(shape, crop_fraction), min_size=image_size)
    return resize(image, image_size)


def normalize(images, normalization):
    """Maps [0, 255] pixels with a named entry of `NORMALIZATIONS` (float32).

    Works on an image or a batch. Computed as one multiply-add over rows of
    `width * 3` values (a scalar one when the channels share mean and std):
    broadcasting a 3-vector over the channel axis is several times slower in
    TensorFlow.
    """
    images = tf.cast(images, tf.float32)
    mean_std = NORMALIZATIONS[normalization]
    if mean_std is None:
        return images
    mean, std = (np.asarray(v, np.float32) for v in mean_std)
    scale, offset = 1.0 / std, -mean / std
    if np.all(scale == scale[0]) and np.all(offset == offset[0]):
        return images * scale[0] + offset[0]
    width = images.shape[-2]
    if width is None:
        width = tf.shape(images)[-2]
        scale, offset = tf.tile(scale, [width]), tf.tile(offset, [width])
    else:
        scale, offset = np.tile(scale, width), np.tile(offset, width)
    shape = tf.shape(images)
    rows = tf.reshape(images, [-1, width * 3])
    return tf.reshape(rows * scale + offset, shape)
