"""Image folders become prepared TFDS datasets; bad files are reported by path."""

import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import tfds_configs

COLOURS = {"blue": (20, 40, 220), "green": (30, 200, 40), "red": (220, 30, 30)}


def _image(colour, rng):
    height, width = rng.integers(40, 90, size=2)
    return np.full((height, width, 3), colour, np.uint8)


def _write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def make_folder(root, per_class=10, seed=0, png_every=4):
    """One sub-folder per colour class; every `png_every`-th image is a PNG."""
    rng = np.random.default_rng(seed)
    for name, colour in COLOURS.items():
        for i in range(per_class):
            image = _image(colour, rng)
            if png_every and i % png_every == 0:
                _write(os.path.join(root, name, f"{i:03d}.png"), tf.io.encode_png(image).numpy())
            else:
                _write(os.path.join(root, name, f"{i:03d}.jpg"), tf.io.encode_jpeg(image).numpy())
    return root


def _records(source, split):
    ds = source.builder.as_dataset(split=split)
    return list(ds.as_numpy_iterator())


def test_folder_becomes_a_dataset_with_labels_from_class_folders(tmp_path):
    root = make_folder(str(tmp_path / "Colour Photos"))
    source = tfds_configs.prepare_image_folder(root, data_dir=tmp_path / "data")
    assert source.config.name == "colour_photos"
    assert source.config.origin == "folder"
    assert source.config.num_classes == 3
    names = source.builder.info.features["label"].names
    assert names == sorted(COLOURS)
    assert source.num_examples("train") + source.num_examples("validation") == 30
    assert source.num_examples("validation") == 3  # 10% of each class.
    for split in ("train", "validation"):
        for record in _records(source, split):
            colour = COLOURS[names[record["label"]]]
            assert record["file_name"].decode().startswith(names[record["label"]] + "/")
            assert np.abs(record["image"].reshape(-1, 3).mean(0) - colour).max() < 8
    raw = source.builder.as_dataset(
        split="train", decoders={"image": tfds.decode.SkipDecoding()})
    assert all(tf.io.is_jpeg(r["image"]) for r in raw)  # PNGs were re-encoded.


def test_held_out_split_is_seeded_and_stratified(tmp_path):
    root = make_folder(str(tmp_path / "photos"), per_class=20)
    first = tfds_configs.prepare_image_folder(
        root, data_dir=tmp_path / "a", val_fraction=0.25, seed=3)
    again = tfds_configs.prepare_image_folder(
        root, data_dir=tmp_path / "b", val_fraction=0.25, seed=3)
    other = tfds_configs.prepare_image_folder(
        root, data_dir=tmp_path / "c", val_fraction=0.25, seed=4)

    def held_out(source):
        return sorted(r["file_name"] for r in _records(source, "validation"))

    assert held_out(first) == held_out(again)
    assert held_out(first) != held_out(other)
    labels = [r["label"] for r in _records(first, "validation")]
    assert sorted(labels) == [0] * 5 + [1] * 5 + [2] * 5


def test_explicit_train_and_val_folders(tmp_path):
    root = tmp_path / "split"
    make_folder(str(root / "train"), per_class=6, png_every=0)
    make_folder(str(root / "val"), per_class=2, seed=1, png_every=0)
    source = tfds_configs.prepare_image_folder(root, data_dir=tmp_path / "data")
    assert source.num_examples("train") == 18
    assert source.num_examples("validation") == 6
    assert all(r["file_name"].decode().startswith("val/") for r in _records(source, "validation"))
    with pytest.raises(ValueError, match="val_fraction=0.2 must be None"):
        tfds_configs.prepare_image_folder(root, data_dir=tmp_path / "data", val_fraction=0.2)


def test_corrupt_and_non_image_files_fail_the_build_with_their_paths(tmp_path):
    root = make_folder(str(tmp_path / "photos"))
    good = tf.io.encode_jpeg(np.zeros((32, 32, 3), np.uint8)).numpy()
    truncated = os.path.join(root, "red", "truncated.jpg")
    _write(truncated, good[: len(good) // 2])
    notes = os.path.join(root, "green", "notes.txt")
    _write(notes, b"not an image")
    empty = os.path.join(root, "blue", "empty.jpg")
    _write(empty, b"")
    stray = os.path.join(root, "README")
    _write(stray, b"top-level file")
    _write(os.path.join(root, "blue", ".DS_Store"), b"hidden files are ignored")

    with pytest.raises(tfds_configs.InvalidImagesError) as error:
        tfds_configs.prepare_image_folder(root, data_dir=tmp_path / "data")
    message = str(error.value)
    for path in (truncated, notes, empty, stray):
        assert path in message
    assert "Invalid JPEG data" in message
    assert "skip_invalid=True" in message
    assert isinstance(error.value, ValueError)
    assert {f.path for f in error.value.invalid_files} == {truncated, notes, empty, stray}
    prepared = tmp_path / "data" / "photos"
    assert not prepared.exists() or not os.listdir(prepared)


def test_skip_invalid_builds_and_records_what_was_skipped(tmp_path):
    root = make_folder(str(tmp_path / "photos"))
    bad = os.path.join(root, "red", "broken.jpg")
    _write(bad, b"\xff\xd8\xff\xe0 broken")
    source = tfds_configs.prepare_image_folder(root, data_dir=tmp_path / "data", skip_invalid=True)
    skipped = source.builder.info.metadata["skipped_files"]
    assert [entry["path"] for entry in skipped] == [bad]
    assert source.num_examples("train") + source.num_examples("validation") == 30


def test_unchanged_folder_is_reused_and_changed_folder_rebuilt(tmp_path):
    root = make_folder(str(tmp_path / "photos"))
    data_dir = tmp_path / "data"
    first = tfds_configs.prepare_image_folder(root, data_dir=data_dir)
    info = os.path.join(first.builder.data_dir, "dataset_info.json")
    stamp = os.stat(info).st_mtime_ns

    second = tfds_configs.prepare_image_folder(root, data_dir=data_dir)
    assert os.stat(info).st_mtime_ns == stamp
    assert second.builder.info.metadata["fingerprint"] == first.builder.info.metadata["fingerprint"]

    _write(os.path.join(root, "red", "new.jpg"),
           tf.io.encode_jpeg(np.full((50, 50, 3), COLOURS["red"], np.uint8)).numpy())
    third = tfds_configs.prepare_image_folder(root, data_dir=data_dir)
    assert third.num_examples("train") + third.num_examples("validation") == 31
    assert sorted(os.listdir(data_dir / "photos")) == ["1.0.0"]  # Old copy swapped out.

    reloaded = tfds_configs.load_image_folder("photos", data_dir=data_dir)
    assert reloaded.config.num_classes == 3
    assert reloaded.num_examples("train") == third.num_examples("train")


def test_load_image_folder_requires_a_prepared_dataset(tmp_path):
    with pytest.raises(tfds_configs.DatasetNotPreparedError, match="prepare_image_folder"):
        tfds_configs.load_image_folder("nothing_here", data_dir=tmp_path)


@pytest.mark.parametrize(
    "layout, kwargs, message",
    [
        ("missing", {}, "root=.* is not supported; accepted values: a directory"),
        ("ok", {"name": "Bad-Name"}, "name='Bad-Name' is not supported; .*a dataset name"),
        ("ok", {"val_fraction": 1.0}, r"val_fraction=1.0 is not supported; .*a number in \(0, 1\)"),
        ("ok", {"val_fraction": 0.0}, r"val_fraction=0.0 is not supported; .*a number in \(0, 1\)"),
        ("ok", {"seed": -1}, "seed=-1 is not supported; accepted values: an integer >= 0"),
        ("ok", {"skip_invalid": 1}, "skip_invalid=1 is not supported; accepted values: True or False"),
        ("one_class", {}, "at least 2 class folders"),
        ("empty_class", {}, r"Class folders \['empty'\] contain no files"),
        ("train_and_other", {}, "other folders must be one of"),
        ("val_only_class", {}, r"Validation classes \['extra'\]"),
    ],
)
def test_bad_folders_and_arguments_are_rejected(tmp_path, layout, kwargs, message):
    root = tmp_path / "photos"
    jpeg = tf.io.encode_jpeg(np.zeros((8, 8, 3), np.uint8)).numpy()
    if layout == "ok":
        make_folder(str(root), per_class=3)
    elif layout == "one_class":
        _write(str(root / "only" / "a.jpg"), jpeg)
    elif layout == "empty_class":
        make_folder(str(root), per_class=3)
        os.makedirs(root / "empty")
    elif layout == "train_and_other":
        make_folder(str(root / "train"), per_class=3)
        make_folder(str(root / "extra"), per_class=3)
    elif layout == "val_only_class":
        make_folder(str(root / "train"), per_class=3)
        _write(str(root / "val" / "extra" / "a.jpg"), jpeg)
    with pytest.raises(ValueError, match=message):
        tfds_configs.prepare_image_folder(root, data_dir=tmp_path / "data", **kwargs)
    assert not (tmp_path / "data").exists() or not any(
        (tmp_path / "data").rglob("dataset_info.json"))
