"""Per-image ops of the input pipeline: crop windows, fused decode, normalisation.

JPEG decoding dominates the cost of an image pipeline, so crops are chosen
from the shape in the JPEG header (`tf.image.extract_jpeg_shape`) and only
that window is decoded (`tf.image.decode_and_crop_jpeg`). Other formats
(PNG in CIFAR, GIF, BMP) take a generic path: full decode, then the same crop.
A window is `[offset_y, offset_x, height, width]` (int32).
"""

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
    aspect = tf.cast(shape[1], tf.float32) / tf.cast(shape[0], tf.float32)
    whole_image_fits = tf.logical_and(
        tf.constant(area_range[1] >= 1.0),
        tf.logical_and(aspect >= aspect_ratio_range[0] * (1 - 1e-6),
                       aspect <= aspect_ratio_range[1] * (1 + 1e-6)),
    )
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
    window = tf.stack([begin[0], begin[1], size[0], size[1]])
    failed = tf.logical_and(tf.reduce_all(tf.equal(size[:2], shape)),
                            tf.logical_not(whole_image_fits))
    return tf.where(failed, center_crop_window(shape, fallback_fraction), window)


def decode_window(encoded, window_fn, fused=True):
    """Decodes the window `window_fn(shape)` of an encoded image as uint8 RGB.

    JPEG bytes are decoded inside the window only; other formats, or every
    format with `fused=False`, are fully decoded and then cropped.
    """

    def jpeg():
        shape = tf.image.extract_jpeg_shape(encoded, output_type=tf.int32)[:2]
        return tf.image.decode_and_crop_jpeg(encoded, window_fn(shape), channels=3)

    def full():
        image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
        window = window_fn(tf.shape(image)[:2])
        return tf.slice(image, [window[0], window[1], 0], [window[2], window[3], 3])

    image = tf.cond(tf.io.is_jpeg(encoded), jpeg, full) if fused else full()
    image.set_shape([None, None, 3])
    return image


def resize(image, image_size):
    """Bilinear resize to [size, size, 3], rounded back to uint8.

    Per-image tensors stay uint8 (a quarter of float32's memory traffic);
    normalisation to float happens once per batch.
    """
    image = tf.image.resize(image, [image_size, image_size], method="bilinear")
    return tf.saturate_cast(tf.round(image), tf.uint8)


def train_image(encoded, seed, image_size, fallback_fraction, fused=True, *,
                area_range=AREA_RANGE, aspect_ratio_range=ASPECT_RATIO_RANGE):
    """Random-resized crop and random flip: uint8 [size, size, 3].

    `seed` is a stateless seed of shape [2]; the crop ranges are those of
    `random_crop_window`; `fused=False` exists for the benchmark's baseline.
    """
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    image = decode_window(
        encoded,
        lambda shape: random_crop_window(
            shape, crop_seed, area_range=area_range,
            aspect_ratio_range=aspect_ratio_range, fallback_fraction=fallback_fraction,
        ),
        fused=fused,
    )
    return tf.image.stateless_random_flip_left_right(resize(image, image_size), flip_seed)


def eval_image(encoded, image_size, crop_fraction):
    """Centre crop at `crop_fraction`, resized: uint8 [size, size, 3]."""
    image = decode_window(encoded, lambda shape: center_crop_window(shape, crop_fraction))
    return resize(image, image_size)


def normalize(images, normalization):
    """Maps [0, 255] pixels with a named entry of `NORMALIZATIONS` (float32).

    Computed as one multiply-add over rows of `width * 3` values: broadcasting
    a 3-vector over the channel axis is several times slower in TensorFlow.
    """
    images = tf.cast(images, tf.float32)
    mean_std = NORMALIZATIONS[normalization]
    if mean_std is None:
        return images
    mean, std = (tf.constant(v, tf.float32) for v in mean_std)
    shape = tf.shape(images)
    width = shape[-2]
    rows = tf.reshape(images, [-1, width * 3])
    rows = rows * tf.tile(1.0 / std, [width]) + tf.tile(-mean / std, [width])
    return tf.reshape(rows, shape)
