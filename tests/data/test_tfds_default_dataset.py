"""The embedded default dataset: procedural, deterministic, prepared once, offline."""

import os

import numpy as np
import pytest
import tensorflow as tf

import tfds_configs
from helpers import run_python
from tfds_configs import default_dataset
from tfds_configs import synthetic

_DIGEST_SCRIPT = (
    "from tfds_configs import synthetic; "
    "print(synthetic.digest(seed={seed}, split='validation', num_examples=60))"
)


@pytest.mark.slow
def test_generation_is_deterministic_across_processes():
    # Each child imports TensorFlow and encodes 60 images: ~10 s; 120 s is a hang.
    digests = [run_python(["-c", _DIGEST_SCRIPT.format(seed=0)], timeout=120).stdout.strip().splitlines()[-1]
               for _ in range(2)]
    here = synthetic.digest(seed=0, split="validation", num_examples=60)
    assert digests == [here, here]
    assert synthetic.digest(seed=1, split="validation", num_examples=60) != here


def test_examples_are_realistic_rgb_images_with_balanced_labels():
    labels = []
    for index in range(40):
        image, label = synthetic.example(0, "train", index)
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
        assert all(synthetic.SIDE_RANGE[0] <= side <= synthetic.SIDE_RANGE[1]
                   for side in image.shape[:2])
        assert image.std() > 10  # Not a flat image.
        labels.append(label)
    assert labels == [i % 10 for i in range(40)]
    assert len(synthetic.CLASS_NAMES) == 10


def test_splits_and_seeds_give_different_images():
    train, _ = synthetic.example(0, "train", 3)
    validation, _ = synthetic.example(0, "validation", 3)
    other_seed, _ = synthetic.example(1, "train", 3)
    assert not np.array_equal(train, validation)
    assert not np.array_equal(train, other_seed)
    assert np.array_equal(train, synthetic.example(0, "train", 3)[0])


def test_encoded_examples_are_baseline_jpegs():
    _, jpeg, label = next(synthetic.generate(0, "train", 1))
    assert tf.io.is_jpeg(jpeg)
    decoded = tf.io.decode_jpeg(jpeg).numpy()
    original, _ = synthetic.example(0, "train", 0)
    assert decoded.shape == original.shape
    assert np.abs(decoded.astype(int) - original).mean() < 6
    assert label == 0


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"seed": -1, "split": "train", "num_examples": 1}, "seed"),
        ({"seed": 0, "split": "test", "num_examples": 1}, "split"),
        ({"seed": 0, "split": "train", "num_examples": 0}, "num_examples"),
        ({"seed": 0.5, "split": "train", "num_examples": 1}, "seed"),
    ],
)
def test_generate_rejects_bad_arguments(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        next(synthetic.generate(**kwargs))


def test_prepared_once_then_reused(tmp_path):
    builder = tfds_configs.prepare_default_dataset(
        tmp_path, num_train_examples=40, num_eval_examples=20
    )
    path = tmp_path / "keras_mobile_shapes" / "seed0-train40-eval20" / "1.0.0"
    assert os.path.samefile(builder.data_dir, path)
    assert builder.info.splits["train"].num_examples == 40
    assert builder.info.splits["validation"].num_examples == 20
    assert builder.info.splits["train"].num_shards == 16
    assert builder.info.features["label"].names == list(synthetic.CLASS_NAMES)
    # Nothing but the finished dataset is left behind.
    assert sorted(os.listdir(path.parent)) == ["1.0.0"]
    stamp = os.stat(path / "dataset_info.json").st_mtime_ns

    again = tfds_configs.prepare_default_dataset(
        tmp_path, num_train_examples=40, num_eval_examples=20
    )
    assert os.stat(path / "dataset_info.json").st_mtime_ns == stamp
    assert again.info.splits["train"].num_examples == 40

    records = list(builder.as_dataset(split="validation").as_numpy_iterator())
    assert sorted(r["label"] for r in records) == sorted(i % 10 for i in range(20))


def test_load_default_uses_the_registry_entry(tmp_path, monkeypatch):
    calls = []
    real = default_dataset.prepare_default_dataset

    def small(data_dir):
        calls.append(data_dir)
        return real(data_dir, num_train_examples=20, num_eval_examples=10)

    monkeypatch.setattr(default_dataset, "prepare_default_dataset", small)
    source = tfds_configs.load(data_dir=tmp_path)
    assert calls == [tmp_path]
    assert source.config.name == "default"
    assert source.config.num_classes == 10
    assert source.num_examples("train") == 20
    assert tfds_configs.get_dataset_config("default").tfds_name == (
        "keras_mobile_shapes/seed0-train3000-eval500")


def test_prepare_rejects_bad_sizes(tmp_path):
    with pytest.raises(ValueError, match="num_eval_examples"):
        tfds_configs.prepare_default_dataset(tmp_path, num_eval_examples=0)
    assert not os.listdir(tmp_path)
