"""`python -m benchmarks.input_pipeline` builds its own JPEGs and prints a table."""

import numpy as np
import pytest
import tensorflow as tf

from benchmarks import input_pipeline
from tfds_configs import preprocessing
from tfds_configs import synthetic

TINY = ["--num_images", "12", "--image_size", "32", "--batch_size", "4",
        "--batches", "2", "--warmup", "1", "--rounds", "1", "--num_threads", "1"]


def test_benchmark_measures_every_pipeline_and_prints_a_table(capsys):
    results = input_pipeline.main(TINY)
    assert list(results) == [input_pipeline.NAIVE, input_pipeline.FULL_DECODE,
                             input_pipeline.OURS, input_pipeline.TRAIN_INPUT]
    for measurement in results.values():
        assert measurement["images_per_s"] > 0 and measurement["images_per_cpu_s"] > 0
    table = capsys.readouterr().out
    assert "12 JPEGs of ~500x375" in table and "-> 32x32" in table
    for name in results:
        assert name in table
    assert "per core: ours / naive = " in table


def test_benchmark_images_are_imagenet_sized_jpegs():
    examples = list(input_pipeline._examples(4, seed=0))  # pylint: disable=protected-access
    for index, example in examples:
        assert tf.io.is_jpeg(example["image"])
        shape = tuple(tf.image.extract_jpeg_shape(example["image"]).numpy()[:2])
        assert shape == input_pipeline.IMAGE_SIZES[index % len(input_pipeline.IMAGE_SIZES)]
        assert len(example["image"]) > 50_000  # Photographic detail, not flat colour.


def test_baselines_produce_the_same_kind_of_images_as_ours():
    image, _ = synthetic.example(0, "train", 0)
    encoded, seed = tf.io.encode_jpeg(image), tf.constant([0, 1], tf.int64)
    ours = preprocessing.train_image(encoded, seed, 32, 0.875).numpy()
    full = input_pipeline.full_decode_image(encoded, seed, 32, 0.875).numpy()
    naive = input_pipeline.naive_image(encoded, seed, 32, 0.875).numpy()
    assert ours.shape == full.shape == naive.shape == (32, 32, 3)
    assert np.abs(ours.astype(int) - full).mean() < 1.0  # Same crop, same flip.
    mean, std = preprocessing.NORMALIZATIONS["imagenet"]
    assert np.abs(naive * std + mean - full).mean() < 1.0


@pytest.mark.parametrize("flag", ["--num_images", "--batches", "--rounds", "--num_threads"])
def test_benchmark_rejects_non_positive_sizes(flag, capsys):
    argv = list(TINY)
    argv[argv.index(flag) + 1] = "0"
    with pytest.raises(SystemExit):
        input_pipeline.main(argv)
    assert f"{flag} must be >= 1" in capsys.readouterr().err
