"""The tf.data input pipeline: `train_input` and `eval_input`, used by every model.

Both take a `sources.DataSource`, a global batch size and an optional
`tf.distribute.InputContext` (as passed by
`strategy.distribute_datasets_from_function`), and return per-replica
batches of `(images, labels)`:

  images: [batch, size, size, 3], float32 or bfloat16, normalised as asked;
  labels: [batch] int32 class ids, or [batch, num_classes] float32 with
          `one_hot=True` (required by MixUp/CutMix, which mix labels).

Crops, flips and RandAugment's choice of ops use stateless randomness keyed
by (seed, input pipeline, element index); the Keras layers (augmentation
magnitudes, MixUp, CutMix) are seeded too and run sequentially when
`deterministic=True`, so that mode reproduces the same batches run after run.
"""

import math
import numbers

import tensorflow as tf

from keras_mobile import validation
from tfds_configs import augment
from tfds_configs import preprocessing
from tfds_configs import reading
from tfds_configs import sources

DTYPES = ("float32", "bfloat16")
_fold_in = tf.random.experimental.stateless_fold_in


def train_input(
    source,
    *,
    global_batch_size,
    image_size=None,
    input_context=None,
    split=None,
    normalization="imagenet",
    dtype="float32",
    one_hot=False,
    crop_area_range=preprocessing.AREA_RANGE,
    crop_aspect_ratio_range=preprocessing.ASPECT_RATIO_RANGE,
    randaugment_num_ops=0,
    randaugment_factor=0.5,
    mixup_alpha=0.0,
    cutmix_alpha=0.0,
    seed=0,
    deterministic=False,
    shuffle_buffer_size=10_000,
    repeat=True,
    drop_remainder=True,
    num_threads=None,
):
    """Training batches: random-resized crop, flip, optional RandAugment/mixing.

    Args:
      source: the `DataSource` to read.
      global_batch_size: examples per step over all replicas.
      image_size: output side; defaults to the dataset's `train_resolution`.
      input_context: the `tf.distribute.InputContext` of this input pipeline.
      split: TFDS split expression; defaults to the dataset's `train_split`.
      normalization: a key of `preprocessing.NORMALIZATIONS` ('raw' = [0, 255]).
      dtype: 'float32' or 'bfloat16' images.
      one_hot: one-hot float labels instead of int32 class ids.
      crop_area_range: (min, max) area of the random crop as a fraction of
        the image, 0 < min <= max <= 1.
      crop_aspect_ratio_range: (min, max) width/height of the random crop,
        0 < min <= max. When no crop fits, the whole image is used if it is
        itself such a crop, else a centre crop at the dataset's crop fraction.
      randaugment_num_ops: RandAugment ops per image; 0 disables it.
      randaugment_factor: RandAugment strength in [0, 1].
      mixup_alpha: MixUp Beta parameter; 0 disables it.
      cutmix_alpha: CutMix Beta parameter in [0, 1]; 0 disables it.
      seed: seeds file order, shuffling and every augmentation.
      deterministic: same batches in the same order on every run (slower).
      shuffle_buffer_size: examples in the shuffle buffer (encoded JPEGs).
      repeat: repeat forever (True) or stop after one pass.
      drop_remainder: static batch shapes (required on TPU).
      num_threads: size of a private tf.data thread pool; None uses all cores.
    """
    config = _check_source(source)
    image_size = _resolution("image_size", image_size, config.train_resolution)
    batch_size = _per_replica_batch_size(global_batch_size, input_context)
    _check_output_args(normalization, dtype, one_hot, num_threads)
    crop_area_range = _check_range("crop_area_range", crop_area_range, high=1.0)
    crop_aspect_ratio_range = _check_range("crop_aspect_ratio_range", crop_aspect_ratio_range)
    validation.check_int("randaugment_num_ops", randaugment_num_ops, minimum=0)
    validation.check_number("randaugment_factor", randaugment_factor, 0, 1)
    validation.check_number("mixup_alpha", mixup_alpha, 0, float("inf"), high_open=True)
    validation.check_number("cutmix_alpha", cutmix_alpha, 0, 1)
    if (mixup_alpha or cutmix_alpha) and not one_hot:
        raise ValueError(
            "mixup_alpha and cutmix_alpha mix labels and need one_hot=True; "
            f"got one_hot={one_hot!r}."
        )
    validation.check_int("seed", seed, minimum=0)
    validation.check_bool("deterministic", deterministic)
    validation.check_int("shuffle_buffer_size", shuffle_buffer_size, minimum=1)
    validation.check_bool("repeat", repeat)
    validation.check_bool("drop_remainder", drop_remainder)

    pipeline_id = input_context.input_pipeline_id if input_context else 0
    # One stateless stream per random stage: element i of a stage is seeded
    # with fold_in(stage_seed, i), whatever thread processes it.
    crop_seed, augment_seed, mix_seed = (
        _fold_in(tf.constant([seed, pipeline_id], tf.int64), stage) for stage in range(3)
    )
    # Keras layers draw from a stateful generator: sequential when deterministic.
    keras_seed = (seed * 1_000_003 + pipeline_id) % (2**31 - 1)
    keras_calls = 1 if deterministic else tf.data.AUTOTUNE

    ds = reading.read_split(
        source, split or config.train_split, input_context=input_context,
        shuffle_files=True, seed=seed,
    )
    ds = ds.shuffle(shuffle_buffer_size, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    mixing = bool(mixup_alpha or cutmix_alpha)
    # Normalise (and cast, unless the batch is mixed later) each image in the
    # last per-image map, so no batch-level map is needed.
    finish = _finisher(config, normalization, one_hot, None if mixing else dtype)

    def crop(encoded, label, element_seed):
        image = preprocessing.train_image(
            encoded, element_seed, image_size, config.crop_fraction,
            area_range=crop_area_range, aspect_ratio_range=crop_aspect_ratio_range,
        )
        return (image, label) if randaugment_num_ops else finish(image, label)

    ds = _map_seeded(ds, crop, crop_seed)
    if randaugment_num_ops:
        rand_augment = augment.rand_augment(randaugment_num_ops, randaugment_factor, keras_seed)
        ds = _map_seeded(
            ds,
            lambda image, label, element_seed: finish(*rand_augment(image, label, element_seed)),
            augment_seed,
            num_calls=keras_calls,
        )
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    if mixing:
        mix = augment.mix(mixup_alpha, cutmix_alpha, keras_seed)
        ds = _map_seeded(
            ds,
            lambda images, labels, batch_seed: _cast(*mix(images, labels, batch_seed), dtype),
            mix_seed,
            num_calls=keras_calls,
        )
    return ds.prefetch(tf.data.AUTOTUNE).with_options(_options(deterministic, num_threads))


def eval_input(
    source,
    *,
    global_batch_size,
    image_size=None,
    crop_fraction=None,
    input_context=None,
    split=None,
    normalization="imagenet",
    dtype="float32",
    one_hot=False,
    drop_remainder=False,
    cache=False,
    num_threads=None,
):
    """Evaluation batches: centre crop at `crop_fraction`, resize; one pass, in order.

    Args are as for `train_input`, plus `crop_fraction` (defaults to the
    dataset's) and `cache`, which keeps the decoded, resized images in memory
    (as uint8) after the first pass. With `drop_remainder=False` the last batch
    may be smaller (its shape is then dynamic).
    """
    config = _check_source(source)
    image_size = _resolution("image_size", image_size, config.eval_resolution)
    crop_fraction = config.crop_fraction if crop_fraction is None else crop_fraction
    validation.check_number("crop_fraction", crop_fraction, 0, 1, low_open=True)
    batch_size = _per_replica_batch_size(global_batch_size, input_context)
    _check_output_args(normalization, dtype, one_hot, num_threads)
    validation.check_bool("drop_remainder", drop_remainder)
    validation.check_bool("cache", cache)

    ds = reading.read_split(source, split or config.eval_split, input_context=input_context)
    finish = _finisher(config, normalization, one_hot, dtype)
    if cache:  # Cached as uint8: a quarter of the memory of float32.
        ds = ds.map(
            lambda encoded, label: (
                preprocessing.to_uint8(preprocessing.eval_image(encoded, image_size, crop_fraction)),
                label,
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
        ).cache()
        ds = ds.map(finish, num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.map(
            lambda encoded, label: finish(
                preprocessing.eval_image(encoded, image_size, crop_fraction), label),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    return ds.prefetch(tf.data.AUTOTUNE).with_options(_options(True, num_threads))


def _map_seeded(ds, fn, stage_seed, num_calls=tf.data.AUTOTUNE):
    """Maps `fn(*element, seed)`; element i gets the seed fold_in(stage_seed, i)."""
    return ds.enumerate().map(
        lambda index, element: fn(*element, _fold_in(stage_seed, index)),
        num_parallel_calls=num_calls,
    )


def _finisher(config, normalization, one_hot, dtype):
    """`(image, label) -> (image, label)`: normalised image (cast to `dtype`
    unless it is None), label one-hot if asked."""

    def finish(image, label):
        image = preprocessing.normalize(image, normalization)
        if dtype is not None:
            image = tf.cast(image, dtype)
        if one_hot:
            return image, tf.one_hot(label, config.num_classes, dtype=tf.float32)
        return image, tf.cast(label, tf.int32)

    return finish


def _cast(images, labels, dtype):
    return tf.cast(images, dtype), labels


def _options(deterministic, num_threads):
    """Options that keep every host core busy without oversubscribing them.

    The per-image maps are parallel; batching is not (copying float images
    in parallel cost about 10% more CPU per image than it saved, on 2 cores).
    """
    options = tf.data.Options()
    options.deterministic = deterministic
    options.autotune.enabled = True
    options.experimental_optimization.map_parallelization = True
    options.experimental_optimization.parallel_batch = False
    options.threading.max_intra_op_parallelism = 1
    if num_threads is not None:
        options.threading.private_threadpool_size = num_threads
    return options


def _check_source(source):
    if not isinstance(source, sources.DataSource):
        raise ValueError(
            "source must be a tfds_configs.DataSource (from tfds_configs.load or "
            f"tfds_configs.prepare_image_folder); got {type(source).__name__}."
        )
    return source.config


def _resolution(name, value, default):
    if value is None:
        return default
    return validation.check_int(name, value, minimum=1)


def _per_replica_batch_size(global_batch_size, input_context):
    validation.check_int("global_batch_size", global_batch_size, minimum=1)
    if input_context is not None and not isinstance(
        input_context, tf.distribute.InputContext
    ):
        raise ValueError(
            "input_context must be a tf.distribute.InputContext or None; got "
            f"{type(input_context).__name__}."
        )
    replicas = input_context.num_replicas_in_sync if input_context else 1
    if global_batch_size % replicas:
        raise ValueError(
            f"global_batch_size={global_batch_size} must be divisible by the "
            f"number of replicas in sync ({replicas})."
        )
    return global_batch_size // replicas


def _check_range(arg, value, high=None):
    """`(min, max)` floats with 0 < min <= max (<= high)."""
    accepted = "a (min, max) pair of numbers with 0 < min <= max" + (
        f" <= {high:g}" if high is not None else "")
    ok = isinstance(value, (tuple, list)) and len(value) == 2 and all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
        for v in value)
    if not (ok and 0 < value[0] <= value[1] and (high is None or value[1] <= high)):
        validation.fail(arg, value, accepted)
    return float(value[0]), float(value[1])


def _check_output_args(normalization, dtype, one_hot, num_threads):
    validation.check_choice("normalization", normalization, preprocessing.NORMALIZATIONS)
    validation.check_choice("dtype", dtype, DTYPES)
    validation.check_bool("one_hot", one_hot)
    if num_threads is not None:
        validation.check_int("num_threads", num_threads, minimum=1)
