"""The tf.data input pipeline: outputs, crops, sharding, determinism, options."""

import ast
import hashlib
import os

import numpy as np
import pytest
import tensorflow as tf

import tfds_configs
from tfds_configs import preprocessing
from tfds_configs import reading
from tfds_configs import synthetic

SIZE = 48
COLOURS = ((230, 20, 20), (20, 230, 20), (20, 20, 230), (240, 240, 240))


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """A small default-dataset variant: 16 files per split (shards by file)."""
    builder = tfds_configs.prepare_default_dataset(
        tmp_path_factory.mktemp("shapes"), num_train_examples=64, num_eval_examples=48
    )
    return tfds_configs.DataSource(
        config=tfds_configs.get_dataset_config("default"), builder=builder
    )


@pytest.fixture(scope="module")
def colours(tmp_path_factory):
    """Solid-colour classes in one file per split (shards by example)."""
    root = tmp_path_factory.mktemp("colours") / "colours"
    rng = np.random.default_rng(0)
    for label, colour in enumerate(COLOURS):
        os.makedirs(root / f"class{label}")
        for i in range(12):
            height, width = rng.integers(50, 120, size=2)
            image = np.full((height, width, 3), colour, np.uint8)
            (root / f"class{label}" / f"{i}.jpg").write_bytes(tf.io.encode_jpeg(image).numpy())
    return tfds_configs.prepare_image_folder(
        root, data_dir=tmp_path_factory.mktemp("data"), val_fraction=0.5
    )


def _context(num_pipelines, index):
    return tf.distribute.InputContext(
        num_input_pipelines=num_pipelines, input_pipeline_id=index,
        num_replicas_in_sync=num_pipelines,
    )


def _batches(ds, count=None):
    ds = ds.take(count) if count else ds
    return [(images.numpy(), labels.numpy()) for images, labels in ds]


# Outputs -------------------------------------------------------------------

IMAGENET_LOW = -np.array(preprocessing.IMAGENET_MEAN) / preprocessing.IMAGENET_STD
IMAGENET_HIGH = (255 - np.array(preprocessing.IMAGENET_MEAN)) / preprocessing.IMAGENET_STD


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("normalization, low, high", [
    ("imagenet", IMAGENET_LOW, IMAGENET_HIGH),
    ("inception", -1.0, 1.0),
    ("raw", 0.0, 255.0),
])
def test_train_batches_shapes_dtypes_and_ranges(shapes, normalization, low, high, dtype):
    ds = tfds_configs.train_input(
        shapes, global_batch_size=8, image_size=SIZE, normalization=normalization, dtype=dtype
    )
    assert ds.element_spec[0].shape == (8, SIZE, SIZE, 3)  # Static: drop_remainder.
    assert ds.element_spec[0].dtype == dtype
    assert ds.element_spec[1] == tf.TensorSpec((8,), tf.int32)
    for images, labels in _batches(ds, 3):
        values = images.astype(np.float32).reshape(-1, 3)
        tolerance = 0.02 * (np.max(high) - np.min(low))
        assert np.all(values >= np.asarray(low) - tolerance)
        assert np.all(values <= np.asarray(high) + tolerance)
        assert values.std() > 0
        assert np.all((labels >= 0) & (labels < 10))


def test_image_size_defaults_to_the_dataset_resolution(shapes):
    train = tfds_configs.train_input(shapes, global_batch_size=4)
    evaluation = tfds_configs.eval_input(shapes, global_batch_size=4)
    assert train.element_spec[0].shape[1:3] == (128, 128)
    assert evaluation.element_spec[0].shape[1:3] == (128, 128)


def test_one_hot_labels(shapes):
    images, labels = _batches(tfds_configs.train_input(
        shapes, global_batch_size=8, image_size=SIZE, one_hot=True), 1)[0]
    assert labels.shape == (8, 10) and labels.dtype == np.float32
    np.testing.assert_array_equal(labels.sum(axis=1), np.ones(8))
    assert set(np.unique(labels)) <= {0.0, 1.0}


def test_labels_stay_with_their_images(colours):
    """Solid colours survive any crop and flip, so each image names its class."""
    for ds in (
        tfds_configs.train_input(colours, global_batch_size=8, image_size=SIZE,
                                 normalization="raw"),
        tfds_configs.eval_input(colours, global_batch_size=8, image_size=SIZE,
                                normalization="raw"),
    ):
        for images, labels in _batches(ds, 5):
            means = images.reshape(len(images), -1, 3).mean(axis=1)
            nearest = np.argmin(
                np.abs(means[:, None, :] - np.array(COLOURS)[None]).sum(-1), axis=1)
            np.testing.assert_array_equal(nearest, labels)


def test_eval_is_one_deterministic_pass(shapes):
    ds = tfds_configs.eval_input(shapes, global_batch_size=10, image_size=SIZE)
    first, second = _batches(ds), _batches(ds)
    assert [len(b[1]) for b in first] == [10, 10, 10, 10, 8]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    cached = _batches(tfds_configs.eval_input(
        shapes, global_batch_size=10, image_size=SIZE, cache=True))
    rounding = 0.5 / min(preprocessing.IMAGENET_STD) + 1e-6  # The cache holds uint8.
    for a, b in zip(first, cached):
        np.testing.assert_allclose(a[0], b[0], rtol=0, atol=rounding)
        np.testing.assert_array_equal(a[1], b[1])
    static = tfds_configs.eval_input(shapes, global_batch_size=10, image_size=SIZE,
                                     drop_remainder=True)
    assert static.element_spec[0].shape[0] == 10
    assert sum(len(b[1]) for b in _batches(static)) == 40


# Below half the crop of every default-dataset image (at most 224 px): never DCT-scaled.
FULL_SCALE_SIZE = 120


def test_eval_image_is_the_centre_crop_resized():
    image, _ = synthetic.example(0, "validation", 1)
    encoded = tf.io.encode_jpeg(image)
    decoded = tf.io.decode_jpeg(encoded).numpy()
    height, width = decoded.shape[:2]
    side = int(0.875 * min(height, width))
    top, left = (height - side + 1) // 2, (width - side + 1) // 2
    size = FULL_SCALE_SIZE
    expected = tf.image.resize(decoded[top:top + side, left:left + side], [size, size]).numpy()
    actual = preprocessing.eval_image(encoded, size, 0.875).numpy()
    assert actual.dtype == np.float32 and actual.shape == (size, size, 3)
    assert np.abs(actual - expected).mean() < 0.1  # Only chroma at the window's edges differs.


# Crops ---------------------------------------------------------------------

def test_random_crop_windows_stay_inside_their_bounds():
    fallbacks = 0
    for i, (height, width) in enumerate([(375, 500), (500, 375), (224, 224), (160, 600)] * 50):
        seed = tf.constant([7, i], tf.int64)
        y, x, h, w = preprocessing.random_crop_window([height, width], seed).numpy()
        assert 0 <= y and 0 <= x and y + h <= height and x + w <= width and h > 0 and w > 0
        centre = preprocessing.center_crop_window([height, width], 0.875).numpy()
        if (y, x, h, w) == tuple(centre):
            fallbacks += 1
            continue
        area = h * w / (height * width)
        assert 0.08 * 0.95 <= area <= 1.0
        # One pixel of rounding either way.
        assert (w - 1) / (h + 1) <= 4 / 3 and (w + 1) / (h - 1) >= 3 / 4
    assert fallbacks < 20


def test_random_crop_windows_follow_the_given_ranges():
    for i in range(40):
        seed = tf.constant([3, i], tf.int64)
        y, x, h, w = preprocessing.random_crop_window(
            [375, 500], seed, area_range=(0.3, 0.5), aspect_ratio_range=(1.0, 1.0)).numpy()
        assert abs(h - w) <= 1 and 0.3 * 0.97 <= h * w / (375 * 500) <= 0.5 * 1.03
        assert y + h <= 375 and x + w <= 500
    # The whole image is a valid window here: kept, not replaced by the centre crop.
    np.testing.assert_array_equal(preprocessing.random_crop_window(
        [375, 500], tf.constant([0, 0], tf.int64), area_range=(1.0, 1.0)), [0, 0, 375, 500])
    # Here it is not (aspect 2 > 4/3): centre crop.
    np.testing.assert_array_equal(preprocessing.random_crop_window(
        [100, 200], tf.constant([0, 0], tf.int64), area_range=(1.0, 1.0)),
        preprocessing.center_crop_window([100, 200], 0.875))


def _whole_or_centre(encoded, size):
    """The expected (1, 1)-area crop: the whole image resized when its aspect
    ratio is in [3/4, 4/3], else the centre crop at 0.875."""
    image = tf.io.decode_jpeg(encoded).numpy()
    height, width = image.shape[:2]
    if not 3 / 4 <= width / height <= 4 / 3:
        side = int(0.875 * min(height, width))
        top, left = (height - side + 1) // 2, (width - side + 1) // 2
        image = image[top:top + side, left:left + side]
    return tf.image.resize(image, [size, size]).numpy()


def test_full_area_crop_is_the_whole_image_resized(shapes):
    size = FULL_SCALE_SIZE
    split = shapes.config.train_split
    expected, expected_labels = zip(*[
        (_whole_or_centre(encoded, size), label)
        for encoded, label in reading.read_split(shapes, split).as_numpy_iterator()])
    expected = np.stack(expected)
    candidates = np.concatenate([expected, expected[:, :, ::-1]])  # Either flip.
    candidate_labels = np.concatenate([expected_labels, expected_labels])
    kwargs = dict(global_batch_size=16, image_size=size, normalization="raw", repeat=False,
                  deterministic=True, crop_area_range=(1.0, 1.0))
    first = _batches(tfds_configs.train_input(shapes, **kwargs))
    assert sum(len(labels) for _, labels in first) == 64
    for images, labels in first:
        for image, label in zip(images, labels):
            errors = np.abs(candidates - image).mean(axis=(1, 2, 3))
            assert errors.min() < 0.1, errors.min()
            assert candidate_labels[np.argmin(errors)] == label
    assert _same(first, _batches(tfds_configs.train_input(shapes, **kwargs)))


def test_random_crops_vary_with_the_seed_only():
    windows = {tuple(preprocessing.random_crop_window(
        [375, 500], tf.constant([0, i], tf.int64)).numpy()) for i in range(20)}
    assert len(windows) > 15
    same = [tuple(preprocessing.random_crop_window(
        [375, 500], tf.constant([0, 3], tf.int64)).numpy()) for _ in range(3)]
    assert len(set(same)) == 1


def test_impossible_crops_fall_back_to_the_centre():
    window = preprocessing.random_crop_window([2, 900], tf.constant([0, 0], tf.int64))
    np.testing.assert_array_equal(window, [1, 450, 1, 1])  # Side int(0.875 * 2) = 1.
    np.testing.assert_array_equal(
        preprocessing.center_crop_window([100, 200], 0.5), [25, 75, 50, 50])


def test_fused_decode_matches_full_decode_then_crop():
    image, _ = synthetic.example(0, "train", 5)
    encoded = tf.io.encode_jpeg(image)
    window = [30, 40, 100, 90]
    fused = preprocessing.decode_window(encoded, lambda shape: tf.constant(window)).numpy()
    full = preprocessing.decode_window(
        encoded, lambda shape: tf.constant(window), fused=False).numpy()
    assert fused.shape == full.shape == (100, 90, 3)
    assert np.abs(fused.astype(int) - full).mean() < 0.5  # Only chroma edges differ.
    png = tf.io.encode_png(image)  # Non-JPEG input takes the generic path.
    np.testing.assert_array_equal(
        preprocessing.decode_window(png, lambda shape: tf.constant(window)).numpy(),
        image[30:130, 40:130])


def test_large_windows_are_decoded_at_a_reduced_dct_scale():
    """A window at least twice `min_size` is decoded at 1/2, 1/4 or 1/8 scale,
    never below `min_size`: the window, downscaled."""
    image = synthetic.render(np.random.default_rng(0), 0, size=(480, 640))
    encoded = tf.io.encode_jpeg(image, quality=95)
    window = [40, 60, 400, 520]
    full = preprocessing.decode_window(encoded, lambda shape: tf.constant(window)).numpy()
    assert full.shape == (400, 520, 3)
    for min_size, scale in [(201, 1), (200, 2), (100, 4), (50, 8), (10, 8)]:
        decoded = preprocessing.decode_window(
            encoded, lambda shape: tf.constant(window), min_size=min_size).numpy()
        assert abs(decoded.shape[0] - 400 / scale) <= 1
        assert abs(decoded.shape[1] - 520 / scale) <= 1
        assert min(decoded.shape[:2]) >= min_size
        reference = tf.image.resize(full, decoded.shape[:2], antialias=True).numpy()
        assert np.abs(decoded - reference).mean() < 3.0
    # Non-JPEG input ignores min_size.
    png = tf.io.encode_png(image)
    assert preprocessing.decode_window(
        png, lambda shape: tf.constant(window), min_size=50).shape == (400, 520, 3)


# Sharding ------------------------------------------------------------------

def _fingerprints(ds):
    return [hashlib.sha1(encoded).hexdigest() for encoded, _ in ds.as_numpy_iterator()]


@pytest.mark.parametrize("source_name, mode", [("shapes", "file"), ("colours", "example")])
@pytest.mark.parametrize("num_pipelines", [2, 4])
@pytest.mark.parametrize("shuffle_files", [False, True])
def test_sharding_partitions_the_split(request, source_name, mode, num_pipelines, shuffle_files):
    source = request.getfixturevalue(source_name)
    split = source.config.train_split
    everything = _fingerprints(reading.read_split(source, split))
    assert len(set(everything)) == len(everything) == source.num_examples(split)
    parts = []
    for index in range(num_pipelines):
        context = _context(num_pipelines, index)
        num_files = len(source.builder.info.splits[split].file_instructions)
        assert reading.sharding_mode(num_files, context) == mode
        parts.append(_fingerprints(reading.read_split(
            source, split, input_context=context, shuffle_files=shuffle_files, seed=1)))
    flat = [f for part in parts for f in part]
    assert len(flat) == len(set(flat))  # No overlap.
    assert sorted(flat) == sorted(everything)  # No loss.
    assert min(len(p) for p in parts) > 0


@pytest.mark.parametrize("source_name", ["shapes", "colours"])
def test_eval_input_shards_into_per_replica_batches(request, source_name):
    source = request.getfixturevalue(source_name)
    total = source.num_examples(source.config.eval_split)
    seen = 0
    for index in range(4):
        ds = tfds_configs.eval_input(source, global_batch_size=8, image_size=SIZE,
                                     input_context=_context(4, index))
        assert ds.element_spec[0].shape[0] in (2, None)
        batches = _batches(ds)
        assert max(len(b[1]) for b in batches) == 2  # 8 over 4 replicas.
        seen += sum(len(b[1]) for b in batches)
    assert seen == total


def test_sharding_mode():
    assert reading.sharding_mode(1, None) == "none"
    assert reading.sharding_mode(16, _context(1, 0)) == "none"
    assert reading.sharding_mode(16, _context(4, 1)) == "file"
    assert reading.sharding_mode(3, _context(4, 1)) == "example"


def test_global_batch_must_divide_over_replicas(shapes):
    context = tf.distribute.InputContext(1, 0, num_replicas_in_sync=4)
    ds = tfds_configs.train_input(shapes, global_batch_size=8, image_size=SIZE,
                                  input_context=context)
    assert ds.element_spec[0].shape[0] == 2
    with pytest.raises(ValueError, match="global_batch_size=10 must be divisible .* \\(4\\)"):
        tfds_configs.train_input(shapes, global_batch_size=10, input_context=context)


# Determinism and augmentation ----------------------------------------------

def _run(source, **kwargs):
    return _batches(tfds_configs.train_input(
        source, global_batch_size=8, image_size=32, deterministic=True, **kwargs), 3)


def _same(a, b):
    return all(np.array_equal(x[0], y[0]) and np.array_equal(x[1], y[1]) for x, y in zip(a, b))


def test_deterministic_mode_repeats_the_same_batches(shapes):
    first = _run(shapes, seed=5)
    assert _same(first, _run(shapes, seed=5))
    assert not _same(first, _run(shapes, seed=6))


def test_deterministic_mode_covers_keras_augmentations(shapes):
    kwargs = dict(seed=2, one_hot=True, randaugment_num_ops=2, mixup_alpha=0.8, cutmix_alpha=1.0)
    first = _run(shapes, **kwargs)
    assert _same(first, _run(shapes, **kwargs))


def test_every_epoch_is_a_new_permutation_and_augmentation(colours):
    ds = tfds_configs.train_input(colours, global_batch_size=24, image_size=SIZE,
                                  deterministic=True, normalization="raw")
    (first, first_labels), (second, second_labels) = _batches(ds, 2)  # 24 = one epoch.
    assert sorted(first_labels) == sorted(second_labels)
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("kwargs", [
    dict(mixup_alpha=0.4), dict(cutmix_alpha=1.0), dict(mixup_alpha=0.8, cutmix_alpha=1.0)])
def test_mixing_yields_soft_labels(shapes, kwargs):
    batches = _batches(tfds_configs.train_input(
        shapes, global_batch_size=16, image_size=SIZE, one_hot=True, **kwargs), 4)
    labels = np.concatenate([b[1] for b in batches])
    np.testing.assert_allclose(labels.sum(axis=1), 1.0, atol=1e-4)
    assert np.any((labels > 0.01) & (labels < 0.99))  # Some examples were mixed.


def test_randaugment_keeps_shapes_and_range(shapes):
    images, labels = _batches(tfds_configs.train_input(
        shapes, global_batch_size=8, image_size=SIZE, randaugment_num_ops=3,
        randaugment_factor=0.9, normalization="raw"), 1)[0]
    assert images.shape == (8, SIZE, SIZE, 3)
    assert images.min() >= 0 and images.max() <= 255
    assert labels.dtype == np.int32


def test_keras_is_imported_lazily():
    """No module of the package imports Keras at import time; only `augment`
    imports it, inside the functions that build the Keras layers."""
    package = os.path.dirname(tfds_configs.__file__)
    for name in sorted(os.listdir(package)):
        if not name.endswith(".py"):
            continue
        with open(os.path.join(package, name)) as f:
            tree = ast.parse(f.read())
        for node in tree.body:
            modules = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            assert not any(m.split(".")[0] in ("keras", "tf_keras") for m in modules), name


# Bad arguments -------------------------------------------------------------

@pytest.mark.parametrize("kwargs, argument", [
    (dict(global_batch_size=0), "global_batch_size"),
    (dict(global_batch_size=8.0), "global_batch_size"),
    (dict(image_size=-1), "image_size"),
    (dict(normalization="torch"), "normalization='torch'.*'imagenet', 'inception', 'raw'"),
    (dict(dtype="float16"), "dtype='float16'.*'float32', 'bfloat16'"),
    (dict(one_hot=1), "one_hot"),
    (dict(crop_area_range=(0.0, 1.0)),
     r"crop_area_range=\(0.0, 1.0\).*\(min, max\) pair of numbers with 0 < min <= max <= 1"),
    (dict(crop_area_range=(0.5, 1.5)), "crop_area_range"),
    (dict(crop_area_range=(0.6, 0.5)), "crop_area_range"),
    (dict(crop_area_range=0.5), "crop_area_range"),
    (dict(crop_area_range=(0.1, float("nan"))), "crop_area_range"),
    (dict(crop_aspect_ratio_range=(0, 1)),
     r"crop_aspect_ratio_range=\(0, 1\).*0 < min <= max\."),
    (dict(crop_aspect_ratio_range=(2.0, 1.0)), "crop_aspect_ratio_range"),
    (dict(crop_aspect_ratio_range=(1, 2, 3)), "crop_aspect_ratio_range"),
    (dict(randaugment_num_ops=-1), "randaugment_num_ops"),
    (dict(randaugment_factor=2.0), "randaugment_factor"),
    (dict(mixup_alpha=-0.1), "mixup_alpha"),
    (dict(cutmix_alpha=1.5), "cutmix_alpha"),
    (dict(mixup_alpha=0.2), "need one_hot=True"),
    (dict(seed=-3), "seed"),
    (dict(shuffle_buffer_size=0), "shuffle_buffer_size"),
    (dict(deterministic="yes"), "deterministic"),
    (dict(num_threads=0), "num_threads"),
    (dict(input_context="ctx"), "input_context"),
    (dict(split="nonexistent"), "split='nonexistent'.*'train', 'validation'"),
])
def test_train_input_rejects_bad_arguments(shapes, kwargs, argument):
    kwargs = dict(dict(global_batch_size=8), **kwargs)
    with pytest.raises(ValueError, match=argument):
        tfds_configs.train_input(shapes, **kwargs)


@pytest.mark.parametrize("kwargs, argument", [
    (dict(crop_fraction=0.0), "crop_fraction"),
    (dict(crop_fraction=1.2), "crop_fraction"),
    (dict(cache="no"), "cache"),
    (dict(drop_remainder=None), "drop_remainder"),
])
def test_eval_input_rejects_bad_arguments(shapes, kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        tfds_configs.eval_input(shapes, global_batch_size=8, **kwargs)


def test_source_and_feature_keys_are_checked(shapes):
    with pytest.raises(ValueError, match="source must be a tfds_configs.DataSource"):
        tfds_configs.train_input(shapes.builder, global_batch_size=8)
    import dataclasses
    wrong = tfds_configs.DataSource(
        config=dataclasses.replace(shapes.config, image_key="img"), builder=shapes.builder)
    with pytest.raises(ValueError, match="image_key='img'.*'image', 'label'"):
        tfds_configs.eval_input(wrong, global_batch_size=8)
