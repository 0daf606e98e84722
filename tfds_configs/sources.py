"""Resolves a registered dataset name to a prepared TFDS builder, offline.

Nothing here contacts the network: the default dataset is generated locally,
ImageNet is prepared from the archives the user downloaded, image folders are
converted by `image_folder`, and TFDS catalog datasets must already be
prepared in `data_dir` (the error says how to do that elsewhere).
"""

import dataclasses
import os
from typing import Optional

from etils import epath
import tensorflow_datasets as tfds

from tfds_configs import _store
from tfds_configs import configs
from tfds_configs import default_dataset


class DatasetNotPreparedError(FileNotFoundError):
    """The dataset is not in `data_dir` and preparing it would need the network."""


class ManualDownloadError(FileNotFoundError):
    """A manually downloaded archive that the dataset needs is missing."""


class UnusableDatasetError(ValueError):
    """The dataset a spec names is there but cannot be trained on as it is: a folder without the layout of one
    sub-folder per class, a `tfds:` name TFDS does not know, a TFDS dataset that is not image classification.
    The message names the dataset and says what is wrong."""


@dataclasses.dataclass(frozen=True)
class DataSource:
    """A dataset config together with the prepared builder that reads it."""

    config: configs.DatasetConfig
    builder: tfds.core.DatasetBuilder
    eval_note: Optional[str] = None  # how the eval split was chosen, when it is not the dataset's own

    def num_examples(self, split):
        """Examples in `split` (any TFDS split expression) of the prepared data."""
        return self.builder.info.splits[split].num_examples

    @property
    def class_names(self):
        """The label feature's class names (TFDS `ClassLabel.names`; ids as strings when it has none)."""
        return list(self.builder.info.features[self.config.label_key].names)


def load(name=configs.DEFAULT_DATASET, *, data_dir=None, manual_dir=None):
    """Returns the `DataSource` of registered dataset `name`, preparing it if
    that can be done offline.

    Args:
      name: a name from `configs.list_datasets()`.
      data_dir: where prepared TFDS datasets live (TFDS's default if None).
      manual_dir: only for datasets that need a manual download (ImageNet):
        the folder with the downloaded archives; defaults to
        `<data_dir>/downloads/manual`.
    """
    config = configs.get_dataset_config(name)
    if manual_dir is not None and config.origin != "manual":
        raise ValueError(
            f"manual_dir applies only to datasets prepared from manual "
            f"downloads ({', '.join(_manual_datasets())}); got name={name!r}."
        )
    if config.origin == "generated":
        builder = default_dataset.prepare_default_dataset(data_dir)
    elif config.origin == "folder":
        builder = _prepared_folder(config, data_dir)
    else:
        builder = tfds.builder(config.tfds_name, data_dir=data_dir)
        if not builder.is_prepared():
            _prepare_offline(config, builder, manual_dir)
    return DataSource(config=config, builder=builder)


def _manual_datasets():
    return [
        n for n in configs.list_datasets()
        if configs.get_dataset_config(n).origin == "manual"
    ]


def _prepared_folder(config, data_dir):
    builder = _store.load_prepared(_store.dataset_dir(data_dir, config.tfds_name))
    if builder is None:
        raise DatasetNotPreparedError(
            f"Image-folder dataset {config.name!r} is not prepared in "
            f"{_store.resolve_data_dir(data_dir)}; run "
            f"tfds_configs.prepare_image_folder(<root>, data_dir=..., "
            f"name={config.tfds_name!r}) once."
        )
    return builder


def _prepare_offline(config, builder, manual_dir):
    """Prepares a manual-download dataset, or explains how to get a catalog one."""
    data_dir = builder.data_dir_root
    if config.origin != "manual":
        raise DatasetNotPreparedError(
            f"Dataset {config.name!r} (TFDS {config.tfds_name!r}) is not prepared "
            f"in {data_dir}, and this package never downloads. On a machine with "
            f"internet access run\n"
            f"  tfds build {config.tfds_name} --data_dir=<dir>\n"
            f"then copy <dir>/{config.tfds_name.split('/')[0]} into {data_dir}."
        )
    manual_dir = epath.Path(
        os.path.expanduser(os.fspath(manual_dir))
        if manual_dir is not None
        else epath.Path(data_dir) / "downloads" / "manual"
    )
    missing = [f for f in config.manual_files if not (manual_dir / f).exists()]
    if missing:
        raise ManualDownloadError(
            f"Dataset {config.name!r} must be prepared from archives you download "
            f"yourself from {config.manual_url}. Put "
            f"{' and '.join(config.manual_files)} in {manual_dir} (missing: "
            f"{', '.join(missing)}), or pass manual_dir=<the folder holding them>. "
            f"They are converted once into {data_dir}."
        )
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(
            manual_dir=os.fspath(manual_dir), try_download_gcs=False
        )
    )
