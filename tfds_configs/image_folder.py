"""A folder of images, one sub-folder per class, as a prepared TFDS dataset.

    root/<class>/...image files...                 (split by `val_fraction`)
    root/train/<class>/...  root/val/<class>/...   (explicit splits)

Every file is checked by decoding it; files that are unreadable or not images
fail the build with their paths listed (or are skipped and counted with
`skip_invalid=True`). JPEG files are stored byte for byte; other formats are
re-encoded as JPEG (quality 95) so that training always takes the fused
decode-and-crop path. The result lives in `data_dir/<name>/1.0.0` with a
fingerprint of the folder (paths, sizes, modification times, options): an
unchanged folder is reused, a changed one is rebuilt and swapped in whole.
"""

import concurrent.futures
import dataclasses
import hashlib
import json
import os
import re

from absl import logging
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_mobile import validation
from tfds_configs import _store
from tfds_configs import configs
from tfds_configs import sources

TRAIN_DIR = "train"
VAL_DIRS = ("val", "validation")
DEFAULT_VAL_FRACTION = 0.1
REENCODE_QUALITY = 95
_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
_MAX_LISTED = 20
_LAYOUT_VERSION = 1  # Bump when the conversion changes, to rebuild old datasets.


@dataclasses.dataclass(frozen=True)
class InvalidFile:
    """A file that cannot become a training example, and why."""

    path: str
    reason: str


class InvalidImagesError(sources.UnusableDatasetError):
    """Some files in the folder are unreadable or not images."""

    def __init__(self, root, invalid_files):
        self.invalid_files = tuple(invalid_files)
        listed = "\n".join(f"  {f.path}: {f.reason}" for f in self.invalid_files[:_MAX_LISTED])
        more = len(self.invalid_files) - _MAX_LISTED
        super().__init__(
            f"{len(self.invalid_files)} file(s) under {root} cannot be used as "
            f"images:\n{listed}"
            + (f"\n  ... and {more} more" if more > 0 else "")
            + "\nFix or remove them, or pass skip_invalid=True to skip them."
        )


@dataclasses.dataclass(frozen=True)
class _Layout:
    """Class names and, per split, the candidate (path, label) pairs."""

    class_names: tuple
    splits: dict
    misplaced: tuple  # Files that are not inside a class folder.


def prepare_image_folder(
    root,
    *,
    data_dir=None,
    name=None,
    val_fraction=None,
    seed=0,
    skip_invalid=False,
):
    """Converts `root` into a TFDS dataset once; returns its `DataSource`.

    Args:
      root: folder with one sub-folder per class, or with `train/` and
        `val/` (or `validation/`) folders that each hold the class folders.
      data_dir: where the prepared dataset is written (TFDS's default if None).
      name: dataset name (lowercase letters, digits, underscores); defaults
        to the folder's name.
      val_fraction: share of each class held out for validation when there is
        no `val/` folder (default 0.1); must be None when there is one.
      seed: seeds that held-out selection.
      skip_invalid: skip unreadable/non-image files (listed in the dataset's
        metadata as 'skipped_files') instead of failing.
    """
    root = os.path.abspath(os.path.expanduser(os.fspath(root)))
    if not os.path.isdir(root):
        validation.fail("root", root, "a directory")
    name = _dataset_name(name, root)
    validation.check_int("seed", seed, minimum=0)
    validation.check_bool("skip_invalid", skip_invalid)
    layout = _scan(root, val_fraction, seed)
    fingerprint = _fingerprint(layout, val_fraction, seed, skip_invalid)

    existing = _store.load_prepared(_store.dataset_dir(data_dir, name))
    if existing is not None and (existing.info.metadata or {}).get("fingerprint") == fingerprint:
        return _source(existing)

    invalid = list(layout.misplaced) + _find_invalid(layout)
    if invalid and not skip_invalid:
        raise InvalidImagesError(root, invalid)
    if invalid:
        logging.warning(
            "Skipping %d invalid file(s) under %s: %s", len(invalid), root,
            [f.path for f in invalid],
        )
    splits = _drop(root, layout.splits, {f.path for f in invalid})
    builder = _store.write_dataset(
        data_dir=data_dir,
        name=name,
        features=tfds.features.FeaturesDict(
            {
                "image": tfds.features.Image(shape=(None, None, 3), encoding_format="jpeg"),
                "label": tfds.features.ClassLabel(names=layout.class_names),
                "file_name": tfds.features.Text(),
            }
        ),
        splits={s: _examples(root, items) for s, items in splits.items()},
        description=f"Images from the folder {root}, one class per sub-folder.",
        metadata={
            "fingerprint": fingerprint,
            "root": root,
            "skipped_files": [dataclasses.asdict(f) for f in invalid],
        },
        replace=existing is not None,
    )
    return _source(builder)


def load_image_folder(name, *, data_dir=None):
    """The `DataSource` of an image folder prepared earlier, without its folder."""
    path = _store.dataset_dir(data_dir, _dataset_name(name))
    builder = _store.load_prepared(path)
    if builder is None:
        raise sources.DatasetNotPreparedError(
            f"No image-folder dataset {name!r} is prepared at {path}; run "
            "prepare_image_folder(<root>, data_dir=..., name=...) first."
        )
    return _source(builder)


def _source(builder):
    """A `DataSource` whose config is read from the prepared dataset."""
    splits = builder.info.splits
    return sources.DataSource(
        config=configs.DatasetConfig(
            name=builder.info.name,
            tfds_name=builder.info.name,
            num_classes=builder.info.features["label"].num_classes,
            num_train_examples=splits["train"].num_examples,
            num_eval_examples=splits["validation"].num_examples,
            origin="folder",
        ),
        builder=builder,
    )


def _dataset_name(name, root=None):
    """`name` if valid, else (when None) one derived from the folder's name."""
    if name is None and root is not None:
        name = re.sub(r"[^a-z0-9]+", "_", os.path.basename(root).lower()).strip("_")
        return name if _NAME_PATTERN.match(name) else f"folder_{name}".rstrip("_")
    if not isinstance(name, str) or not _NAME_PATTERN.match(name):
        validation.fail("name", name, "a dataset name: lowercase letters, digits and "
                        "underscores, starting with a letter")
    return name


def _visible(names):
    return sorted(n for n in names if not n.startswith("."))


def _class_files(class_dir):
    """Every visible file under `class_dir`, recursively, sorted."""
    files = []
    for parent, dirs, names in os.walk(class_dir, followlinks=True):
        dirs[:] = _visible(dirs)
        files.extend(os.path.join(parent, n) for n in _visible(names))
    return sorted(files)


def _entries(folder):
    """(sub-folders, files) directly inside `folder`, visible ones only, sorted."""
    entries = _visible(os.listdir(folder))
    dirs = [e for e in entries if os.path.isdir(os.path.join(folder, e))]
    files = [os.path.join(folder, e) for e in entries if e not in dirs]
    return dirs, files


def _read_classes(folder, misplaced):
    """{class name: [files]} for the class folders directly under `folder`;
    loose files there are added to `misplaced`."""
    dirs, files = _entries(folder)
    misplaced.extend(InvalidFile(f, "not inside a class folder") for f in files)
    return {d: _class_files(os.path.join(folder, d)) for d in dirs}


def _held_out_fraction(val_fraction):
    fraction = DEFAULT_VAL_FRACTION if val_fraction is None else val_fraction
    return validation.check_number(
        "val_fraction", fraction, 0, 1, low_open=True, high_open=True
    )


def _scan(root, val_fraction, seed):
    """Finds classes and files, and assigns each file to a split."""
    misplaced = []
    top, _ = _entries(root)
    if TRAIN_DIR not in top:
        classes = _read_classes(root, misplaced)
        splits = _split_by_fraction(classes, _held_out_fraction(val_fraction), seed)
        return _layout(root, classes, splits, misplaced)

    val_dirs = [d for d in top if d in VAL_DIRS]
    if len(val_dirs) > 1 or any(d not in (TRAIN_DIR,) + VAL_DIRS for d in top):
        raise sources.UnusableDatasetError(
            f"image folder {root!r} has a '{TRAIN_DIR}' folder, so its other folders must "
            f"be one of {list(VAL_DIRS)}; found {top}."
        )
    _read_classes(root, misplaced)  # Only records loose files.
    train = _read_classes(os.path.join(root, TRAIN_DIR), misplaced)
    if not val_dirs:
        splits = _split_by_fraction(train, _held_out_fraction(val_fraction), seed)
        return _layout(root, train, splits, misplaced)
    if val_fraction is not None:
        raise ValueError(
            f"val_fraction={val_fraction!r} must be None: {root!r} already "
            f"has a '{val_dirs[0]}' folder."
        )
    val = _read_classes(os.path.join(root, val_dirs[0]), misplaced)
    unknown = sorted(set(val) - set(train))
    if unknown:
        raise sources.UnusableDatasetError(
            f"Validation classes {unknown} in image folder {root!r} have no '{TRAIN_DIR}' folder."
        )
    return _layout(root, train, {"train": train, "validation": val}, misplaced)


def _split_by_fraction(classes, fraction, seed):
    """Holds out `fraction` of each class (seeded), so every class is in both."""
    train, val = {}, {}
    for index, (class_name, files) in enumerate(sorted(classes.items())):
        order = np.random.default_rng([seed, index]).permutation(len(files))
        num_val = int(round(len(files) * fraction))
        val[class_name] = sorted(files[i] for i in order[:num_val])
        train[class_name] = sorted(files[i] for i in order[num_val:])
    return {"train": train, "validation": val}


def _layout(root, classes, splits, misplaced):
    class_names = tuple(sorted(classes))
    if len(class_names) < 2:
        raise sources.UnusableDatasetError(
            f"image folder {root!r} needs at least 2 class folders (one sub-folder per class); found "
            f"{list(class_names)}."
        )
    empty = [c for c in class_names if not classes[c]]
    if empty:
        raise sources.UnusableDatasetError(f"Class folders {empty} contain no files (image folder {root!r}).")
    label = {c: i for i, c in enumerate(class_names)}
    return _Layout(
        class_names=class_names,
        splits={
            split: [(f, label[c]) for c in sorted(per_class) for f in per_class[c]]
            for split, per_class in splits.items()
        },
        misplaced=tuple(misplaced),
    )


def _fingerprint(layout, val_fraction, seed, skip_invalid):
    """Changes whenever a file, the split assignment or an option changes."""
    sha = hashlib.sha256()
    sha.update(json.dumps([_LAYOUT_VERSION, val_fraction, seed, skip_invalid]).encode())
    sha.update(json.dumps(layout.class_names).encode())
    entries = [(s, path, label) for s, items in sorted(layout.splits.items())
               for path, label in items]
    entries += [("misplaced", f.path, -1) for f in layout.misplaced]
    for split, path, label in entries:
        stat = os.stat(path)
        sha.update(json.dumps([split, path, label, stat.st_size, stat.st_mtime_ns]).encode())
    return sha.hexdigest()


def _check_image(path):
    """None if `path` decodes as an image, else why not."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as error:
        return f"unreadable: {error.strerror or error}"
    if not data:
        return "empty file"
    try:
        tf.io.decode_image(data, channels=3, expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as error:
        detail = re.sub(r"\{\{.*?\}\}\s*|\s*\[Op:\w+\]", "", error.message)
        return f"not a decodable image: {detail.splitlines()[0].strip()}"
    return None


def _find_invalid(layout):
    """Decodes every candidate file (in parallel threads) and lists failures."""
    paths = [path for items in layout.splits.values() for path, _ in items]
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        reasons = list(pool.map(_check_image, paths))
    return [InvalidFile(p, r) for p, r in zip(paths, reasons) if r is not None]


def _drop(root, splits, invalid_paths):
    kept = {s: [(p, l) for p, l in items if p not in invalid_paths] for s, items in splits.items()}
    for split, items in kept.items():
        if not items:
            raise sources.UnusableDatasetError(f"The {split!r} split of image folder {root!r} has no usable images.")
    return kept


def _examples(root, items):
    """(key, example) pairs; non-JPEG images are re-encoded as JPEG."""
    for path, label in items:
        with open(path, "rb") as f:
            data = f.read()
        if not tf.io.is_jpeg(data):
            image = tf.io.decode_image(data, channels=3, expand_animations=False)
            data = tf.io.encode_jpeg(image, quality=REENCODE_QUALITY).numpy()
        relative = os.path.relpath(path, root)
        yield relative, {"image": data, "label": label, "file_name": relative}
