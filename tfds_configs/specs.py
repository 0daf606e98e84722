"""Dataset specs: one string names a dataset wherever one is asked for.

    "default", "imagenet2012", ...     a registered name (`configs.list_datasets()`)
    "folder:/photos"                   a folder of images, one sub-folder per class; prepared into
                                       `data_dir` on first use and reused while the folder is unchanged
    "tfds:oxford_iiit_pet"             any TFDS dataset already prepared in `data_dir`
    "tfds:imagenette/320px-v2:1.0.0"   ... with a builder config and a version

A `tfds:` dataset trains on its `train` split and evaluates on `validation`,
else `test`, else on a held-out tenth of `train` (see `HOLDOUT_PERCENT`), and
its image and label features are the one `Image` and the one `ClassLabel`
feature it has. Its resolution is `DEFAULT_RESOLUTION` unless the caller
(`--resolution`) says otherwise. `DataSource.eval_note` states which split
evaluates when it is not the dataset's own.
"""

import os
import re

import tensorflow_datasets as tfds

from keras_mobile import validation
from tfds_configs import configs
from tfds_configs import image_folder
from tfds_configs import sources

FOLDER_PREFIX = "folder:"
TFDS_PREFIX = "tfds:"
DEFAULT_RESOLUTION = 224  # tfds: and folder: datasets, when the caller gives none
EVAL_SPLITS = ("validation", "test")  # the first one the dataset has evaluates
HOLDOUT_PERCENT = 10  # with neither: this share of `train` evaluates (see `holdout_splits`)
_TFDS_NAME = re.compile(r"^[a-z][a-z0-9_]*(/[A-Za-z0-9_.\-]+)?(:\d+\.\d+\.\d+)?$")
_ACCEPTED = ("a registered dataset ({names}), 'folder:<path to a folder with one sub-folder per class>' or "
             "'tfds:<name>[/<config>][:<version>]' (a TFDS dataset prepared in data_dir)")


def accepted_values(spec=None):
    """What a dataset spec may be, in words (for error messages); registered names close to `spec` first."""
    return _ACCEPTED.format(names=", ".join(validation.closest_first(spec, configs.list_datasets())))


def check_spec(spec, arg="dataset", exists=False):
    """`spec` if it is a well-formed dataset spec; else ValueError naming `arg`.

    Nothing is read; with `exists`, a `folder:` spec's folder must be a directory (one `stat`).
    """
    if not isinstance(spec, str) or not spec:
        validation.fail(arg, spec, accepted_values(spec))
    if spec.startswith(FOLDER_PREFIX):
        if not folder_root(spec):
            validation.fail(arg, spec, accepted_values(spec))
        if exists and not os.path.isdir(folder_root(spec)):
            validation.fail(arg, spec, f"'folder:<path>' of an existing folder with one sub-folder per class (the "
                                       f"folder {folder_root(spec)!r} does not exist)")
    elif spec.startswith(TFDS_PREFIX):
        if not _TFDS_NAME.match(spec[len(TFDS_PREFIX):]):
            validation.fail(arg, spec, accepted_values(spec))
    elif spec not in configs.list_datasets():
        validation.fail(arg, spec, accepted_values(spec))
    return spec


def folder_root(spec):
    """The folder a `folder:` spec names, `~` expanded ('' when it names none)."""
    path = spec[len(FOLDER_PREFIX):].strip()
    return os.path.expanduser(path) if path else ""


def load(spec=configs.DEFAULT_DATASET, *, data_dir=None, manual_dir=None, holdout_seed=0):
    """The `sources.DataSource` that `spec` names, prepared offline where that can be done.

    Args:
      spec: a registered name, `folder:PATH` or `tfds:NAME[/CONFIG][:VERSION]` (module docstring).
      data_dir: where prepared datasets live (TFDS's default if None); image folders are prepared into it.
      manual_dir: for registered datasets prepared from manual downloads (ImageNet).
      holdout_seed: for a `tfds:` dataset without `validation` and `test` splits: which tenth of `train`
        is held out for evaluation (`holdout_splits`).
    """
    check_spec(spec, exists=True)
    if spec.startswith(FOLDER_PREFIX):
        if manual_dir is not None:
            validation.fail("manual_dir", manual_dir, "None for a folder: dataset")
        return image_folder.prepare_image_folder(folder_root(spec), data_dir=data_dir)
    if spec.startswith(TFDS_PREFIX):
        if manual_dir is not None:
            validation.fail("manual_dir", manual_dir, "None for a tfds: dataset")
        return load_catalog(spec[len(TFDS_PREFIX):], data_dir=data_dir, holdout_seed=holdout_seed)
    return sources.load(spec, data_dir=data_dir, manual_dir=manual_dir)


def load_catalog(name, *, data_dir=None, holdout_seed=0):
    """The `DataSource` of TFDS dataset `name` (`NAME[/CONFIG][:VERSION]`) prepared in `data_dir`."""
    validation.check_int("holdout_seed", holdout_seed, minimum=0)
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError as error:
        raise sources.UnusableDatasetError(
            f"dataset='tfds:{name}' is not a TFDS dataset ({str(error).splitlines()[0]})") from None
    if not builder.is_prepared():
        raise sources.DatasetNotPreparedError(
            f"TFDS dataset {name!r} is not prepared in {builder.data_dir_root}, and this package never downloads. "
            f"On a machine with internet access run\n  tfds build {name.split(':')[0]} --data_dir=<dir>\n"
            f"then copy <dir>/{name.split('/')[0].split(':')[0]} into {builder.data_dir_root}."
        )
    image_key, label_key = find_features(builder)
    splits = sorted(builder.info.splits.keys())
    if "train" not in splits:
        raise sources.UnusableDatasetError(
            f"dataset='tfds:{name}' has no 'train' split to train on (its splits: {splits}).")
    eval_note = None
    eval_split = next((s for s in EVAL_SPLITS if s in splits), None)
    train_split = "train"
    if eval_split is None:
        train_split, eval_split = holdout_splits(holdout_seed)
        eval_note = (f"no 'validation' or 'test' split: evaluated on {eval_split} (the held-out tenth number "
                     f"{holdout_seed % (100 // HOLDOUT_PERCENT)} of TFDS's shuffled 'train' order, holdout_seed="
                     f"{holdout_seed}), trained on {train_split}")
    label = builder.info.features[label_key]
    config = configs.DatasetConfig(
        name=f"{TFDS_PREFIX}{name}",
        tfds_name=name,
        num_classes=label.num_classes,
        num_train_examples=builder.info.splits[train_split].num_examples,
        num_eval_examples=builder.info.splits[eval_split].num_examples,
        train_split=train_split,
        eval_split=eval_split,
        image_key=image_key,
        label_key=label_key,
        train_resolution=DEFAULT_RESOLUTION,
        eval_resolution=DEFAULT_RESOLUTION,
    )
    return sources.DataSource(config=config, builder=builder, eval_note=eval_note)


def holdout_splits(seed):
    """`(train, eval)` split expressions: tenth number `seed % 10` of `train` evaluates, the rest trains.

    TFDS writes a split's examples in an order shuffled by a hash of their keys, so a
    slice of `train` is a pseudo-random sample of it, the same on every machine.
    """
    parts = 100 // HOLDOUT_PERCENT
    k = seed % parts
    low, high = k * HOLDOUT_PERCENT, (k + 1) * HOLDOUT_PERCENT
    held_out = f"train[{low or ''}%:{high}%]".replace("[%:", "[:")
    kept = [f"train[:{low}%]"] if low else []
    kept += [f"train[{high}%:]"] if high < 100 else []
    return "+".join(kept), held_out


def find_features(builder):
    """`(image_key, label_key)`: the dataset's one top-level `Image` and one `ClassLabel` feature."""
    features = builder.info.features
    images = [k for k, f in features.items() if isinstance(f, tfds.features.Image)]
    labels = [k for k, f in features.items() if isinstance(f, tfds.features.ClassLabel)]
    if len(images) != 1 or len(labels) != 1:
        described = {k: type(f).__name__ for k, f in features.items()}
        raise sources.UnusableDatasetError(
            f"dataset='tfds:{builder.info.full_name}' is not an image classification dataset this harness can read: "
            f"it needs exactly one top-level Image feature and one ClassLabel feature; its features are {described}."
        )
    return images[0], labels[0]
