"""Dataset specs: registered names, folder:PATH and tfds:NAME[/CONFIG][:VERSION], wherever a dataset is named."""

import os

import pytest
import tensorflow_datasets as tfds

import tfds_configs
from tfds_configs import specs
from tfds_configs import testing as tfds_testing

from helpers import COLOUR_CLASSES, make_image_folder


@pytest.mark.parametrize("spec", ["nope", "", "folder:", "folder:  ", "tfds:", "tfds:Bad Name", "tfds:mnist:1.0",
                                  None, 3])
def test_malformed_specs_name_the_argument_and_every_accepted_form(spec):
    with pytest.raises(ValueError) as error:
        tfds_configs.check_spec(spec, arg="data.dataset")
    message = str(error.value)
    assert message.startswith(f"data.dataset={spec!r} is not supported; accepted values: a registered dataset (")
    assert "'folder:<path to a folder with one sub-folder per class>'" in message
    assert "'tfds:<name>[/<config>][:<version>]'" in message


@pytest.mark.parametrize("spec", ["default", "folder:/photos", "folder:~/my photos", "tfds:mnist",
                                  "tfds:imagenette/320px-v2:1.0.0", "tfds:cifar10:3.0.2"])
def test_well_formed_specs_pass(spec):
    assert tfds_configs.check_spec(spec) == spec


def test_folder_spec_is_prepared_once_and_reused_while_unchanged(tmp_path):
    root = make_image_folder(str(tmp_path / "photos"), per_class=10)
    source = tfds_configs.load(f"folder:{root}", data_dir=tmp_path / "data")
    assert source.class_names == sorted(COLOUR_CLASSES)
    assert source.config.train_resolution == specs.DEFAULT_RESOLUTION
    info = os.path.join(source.builder.data_dir, "dataset_info.json")
    written = os.stat(info).st_mtime_ns
    again = tfds_configs.load(f"folder:{root}", data_dir=tmp_path / "data")
    assert again.builder.data_dir == source.builder.data_dir and os.stat(info).st_mtime_ns == written
    os.remove(os.path.join(root, "red", "001.jpg"))  # a changed folder is prepared again
    changed = tfds_configs.load(f"folder:{root}", data_dir=tmp_path / "data")
    assert changed.num_examples("train") + changed.num_examples("validation") == 29
    images, labels = next(iter(tfds_configs.train_input(changed, global_batch_size=4, image_size=32)))
    assert images.shape == (4, 32, 32, 3) and set(labels.numpy()) <= {0, 1, 2}


@pytest.mark.parametrize("splits, train_split, eval_split", [
    (("train", "validation", "test"), "train", "validation"),
    (("train", "test"), "train", "test"),
    (("train",), "train[10%:]", "train[:10%]"),
])
def test_tfds_spec_evaluates_on_validation_else_test_else_a_held_out_tenth(tmp_path, splits, train_split,
                                                                            eval_split):
    tfds_testing.write_catalog_metadata(None, tmp_path, tfds_name="mnist", splits=splits, num_examples=40)
    source = tfds_configs.load("tfds:mnist", data_dir=tmp_path)
    c = source.config
    assert (c.name, c.train_split, c.eval_split, c.image_key, c.label_key, c.num_classes) == (
        "tfds:mnist", train_split, eval_split, "image", "label", 10)
    assert (c.num_train_examples, c.num_eval_examples) == ((36, 4) if len(splits) == 1 else (40, 40))
    assert (source.eval_note is None) == (len(splits) > 1)
    with tfds.testing.mock_data(num_examples=8, data_dir=str(tmp_path)):
        images, _ = next(iter(tfds_configs.eval_input(source, global_batch_size=4, image_size=32)))
    assert images.shape == (4, 32, 32, 3)


def test_held_out_slices_are_chosen_by_seed_and_partition_train():
    for seed in range(10):
        train, held_out = specs.holdout_splits(seed)
        low = seed * 10
        assert held_out == (f"train[:{low + 10}%]" if seed == 0 else f"train[{low}%:{low + 10}%]")
        assert train == "+".join(filter(None, [f"train[:{low}%]" if low else "", f"train[{low + 10}%:]"
                                               if low < 90 else ""]))
    assert specs.holdout_splits(13) == specs.holdout_splits(3)


def test_a_dataset_without_one_image_and_one_class_label_is_a_clear_error(tmp_path):
    tfds_testing.write_catalog_metadata(None, tmp_path, tfds_name="celeb_a", splits=("train",), num_examples=8)
    with pytest.raises(ValueError, match=r"dataset='tfds:celeb_a/[\d.]+' is not an image classification dataset "
                                         r"this harness can read: it needs exactly one top-level Image feature and "
                                         r"one ClassLabel feature; its features are \{'image': 'Image', "):
        tfds_configs.load("tfds:celeb_a", data_dir=tmp_path)


def test_unknown_or_unprepared_tfds_datasets_say_what_to_do(tmp_path):
    with pytest.raises(ValueError, match=r"dataset='tfds:no_such_dataset' is not a TFDS dataset"):
        tfds_configs.load("tfds:no_such_dataset", data_dir=tmp_path)
    with pytest.raises(tfds_configs.DatasetNotPreparedError, match=r"tfds build cifar10 --data_dir=<dir>"):
        tfds_configs.load("tfds:cifar10", data_dir=tmp_path)
