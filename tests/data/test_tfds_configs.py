"""Dataset registry, offline loading, and catalog configs under TFDS mocking."""

import dataclasses
import socket

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import tfds_configs
from tfds_configs import configs
from tfds_configs import testing

CATALOG = ("imagenet2012", "imagenette", "stanford_dogs", "oxford_flowers102",
           "food101", "cifar10", "cifar100")


@pytest.fixture
def no_network(monkeypatch):
    """Fails any attempt to open a network connection."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_registry_lists_every_supported_dataset():
    assert set(tfds_configs.list_datasets()) >= {"default", *CATALOG}
    assert tfds_configs.list_datasets() == sorted(tfds_configs.list_datasets())


@pytest.mark.parametrize("name", ("default",) + CATALOG)
def test_config_matches_the_tfds_features(name, tmp_path):
    config = tfds_configs.get_dataset_config(name)
    if config.origin == "generated":
        builder = tfds_configs.prepare_default_dataset(
            tmp_path, num_train_examples=4, num_eval_examples=2
        )
    else:
        builder = tfds.builder(config.tfds_name, data_dir=tmp_path)
    features = builder.info.features
    assert isinstance(features[config.image_key], tfds.features.Image)
    assert features[config.label_key].num_classes == config.num_classes
    assert config.num_train_examples > 0 and config.num_eval_examples > 0
    assert 0 < config.crop_fraction <= 1


def test_imagenet_config():
    config = tfds_configs.get_dataset_config("imagenet2012")
    assert (config.num_classes, config.num_train_examples, config.num_eval_examples) == (
        1000, 1_281_167, 50_000)
    assert (config.train_split, config.eval_split) == ("train", "validation")
    assert config.manual_files == ("ILSVRC2012_img_train.tar", "ILSVRC2012_img_val.tar")


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="name='imagenet'") as error:
        tfds_configs.get_dataset_config("imagenet")
    for known in tfds_configs.list_datasets():
        assert known in str(error.value)
    with pytest.raises(ValueError, match="imagenet2012"):
        tfds_configs.load("imagenet")


def test_register_refuses_duplicates_unless_asked():
    config = dataclasses.replace(tfds_configs.get_dataset_config("cifar10"), name="cifar10_copy")
    try:
        assert tfds_configs.register_dataset(config) is config
        with pytest.raises(ValueError, match="already registered"):
            tfds_configs.register_dataset(config)
        tfds_configs.register_dataset(config, overwrite=True)
        with pytest.raises(ValueError, match="DatasetConfig"):
            tfds_configs.register_dataset({"name": "x"})
    finally:
        configs._REGISTRY.pop("cifar10_copy", None)  # pylint: disable=protected-access


@pytest.mark.parametrize(
    "field, value",
    [
        ("num_classes", 1),
        ("num_classes", None),
        ("num_train_examples", 0),
        ("eval_resolution", 2.5),
        ("crop_fraction", 0.0),
        ("crop_fraction", 1.5),
        ("crop_fraction", None),
        ("origin", "internet"),
        ("origin", ("catalog",)),
        ("origin", None),
        ("manual_files", ("x.tar",)),
    ],
)
def test_config_rejects_bad_fields(field, value):
    base = tfds_configs.get_dataset_config("cifar10")
    with pytest.raises(ValueError, match=field):
        dataclasses.replace(base, **{field: value})


def test_config_errors_name_the_field_and_what_it_accepts():
    base = tfds_configs.get_dataset_config("cifar10")
    for change, message in [
        ({"num_classes": 1}, r"^num_classes=1 is not supported; accepted values: an integer >= 2\.$"),
        ({"crop_fraction": 0.0}, r"^crop_fraction=0\.0 .*: a number in \(0, 1\]\.$"),
        ({"origin": "internet"}, r"^origin='internet' .*: \['catalog', 'manual', 'generated', 'folder'\]"),
    ]:
        with pytest.raises(ValueError, match=message):
            dataclasses.replace(base, **change)


def test_imagenet_without_manual_files_names_the_files_and_folder(tmp_path, no_network):
    manual = tmp_path / "manual"
    manual.mkdir()
    (manual / "ILSVRC2012_img_val.tar").write_bytes(b"")
    with pytest.raises(tfds_configs.ManualDownloadError) as error:
        tfds_configs.load("imagenet2012", data_dir=tmp_path / "data", manual_dir=manual)
    message = str(error.value)
    assert "ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar" in message
    assert str(manual) in message
    assert "missing: ILSVRC2012_img_train.tar)" in message
    assert "https://image-net.org/download-images" in message
    assert isinstance(error.value, FileNotFoundError)


def test_imagenet_default_manual_dir_is_inside_data_dir(tmp_path, no_network):
    with pytest.raises(tfds_configs.ManualDownloadError) as error:
        tfds_configs.load("imagenet2012", data_dir=tmp_path)
    assert str(tmp_path / "downloads" / "manual") in str(error.value)
    assert "missing: ILSVRC2012_img_train.tar, ILSVRC2012_img_val.tar" in str(error.value)


def test_manual_dir_is_refused_for_other_datasets(tmp_path):
    with pytest.raises(ValueError, match="manual_dir applies only .*imagenet2012"):
        tfds_configs.load("imagenette", data_dir=tmp_path, manual_dir=tmp_path)


def test_unprepared_catalog_dataset_explains_how_to_build_it(tmp_path, no_network):
    with pytest.raises(tfds_configs.DatasetNotPreparedError) as error:
        tfds_configs.load("food101", data_dir=tmp_path)
    assert "tfds build food101" in str(error.value)
    assert "never downloads" in str(error.value)


def test_split_names():
    assert testing.split_names("train[:90%]+validation") == ["train", "validation"]
    assert testing.split_names("test") == ["test"]


@pytest.mark.parametrize("name", CATALOG)
def test_catalog_configs_run_through_the_pipeline_under_mock_data(name, tmp_path, no_network):
    config = tfds_configs.get_dataset_config(name)
    testing.write_catalog_metadata(name, tmp_path, num_examples=8)
    with tfds.testing.mock_data(num_examples=8, data_dir=str(tmp_path)):
        source = tfds_configs.load(name, data_dir=tmp_path)
        assert source.config is config
        images, labels = next(iter(tfds_configs.train_input(source, global_batch_size=4)))
        assert images.shape == (4, config.train_resolution, config.train_resolution, 3)
        assert images.dtype == tf.float32
        assert labels.dtype == tf.int32
        assert np.all((labels.numpy() >= 0) & (labels.numpy() < config.num_classes))
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=0,
                                             num_replicas_in_sync=2)
        batches = list(tfds_configs.eval_input(
            source, global_batch_size=4, input_context=context, one_hot=True))
    assert sum(int(b[0].shape[0]) for b in batches) == 4  # Half of the 8 mock examples.
    assert batches[0][0].shape[1:] == (config.eval_resolution, config.eval_resolution, 3)
    assert batches[0][1].shape[1:] == (config.num_classes,)
