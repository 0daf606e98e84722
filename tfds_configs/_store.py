"""Writes locally built examples as a prepared TFDS dataset, atomically.

The default dataset and image folders both end up here: examples are written
by TFDS into a private temporary directory inside `data_dir`, and only a
complete dataset is renamed into `data_dir/<name>[/<config>]/<version>`, so a
crash never leaves a half-written dataset where readers look for one.
"""

import os
import shutil
import tempfile
import uuid

from absl import logging
from etils import epath
import tensorflow_datasets as tfds

VERSION = "1.0.0"


def resolve_data_dir(data_dir):
    """`data_dir`, or TFDS's default (`$TFDS_DATA_DIR` or ~/tensorflow_datasets)."""
    if data_dir is None:
        data_dir = tfds.core.constants.get_default_data_dir()
    return epath.Path(os.path.expanduser(os.fspath(data_dir)))


def dataset_dir(data_dir, name, config=None):
    """Where the prepared dataset `name[/config]` lives inside `data_dir`."""
    path = resolve_data_dir(data_dir) / name
    if config:
        path = path / config
    return path / VERSION


def load_prepared(path):
    """The read-only builder of the dataset prepared at `path`, else None."""
    path = epath.Path(path)
    if not path.exists():
        return None
    if not tfds.core.utils.file_utils.is_valid_variant_dir(path):
        return None
    return tfds.builder_from_directory(path)


class _Builder(tfds.dataset_builders.AdhocBuilder, skip_registration=True):
    """An ad-hoc builder that also records a metadata dict and supervised keys."""

    def __init__(self, *, metadata, supervised_keys, **kwargs):
        self._metadata = metadata
        self._supervised_keys = supervised_keys
        super().__init__(**kwargs)

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            description=self._description,
            features=self._feature_spec,
            supervised_keys=self._supervised_keys,
            metadata=tfds.core.MetadataDict(self._metadata),
        )


def write_dataset(
    *,
    data_dir,
    name,
    features,
    splits,
    description,
    metadata,
    config=None,
    num_shards=None,
    supervised_keys=("image", "label"),
    replace=False,
):
    """Prepares `splits` ({split: iterable of (key, example)}) as a TFDS dataset.

    Returns the read-only builder of the result. A dataset found at the
    destination once ours is complete is swapped out if `replace` (its source
    changed), else kept (another process prepared the same data first).
    """
    final = dataset_dir(data_dir, name, config)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = epath.Path(
        tempfile.mkdtemp(prefix=f".{name}.incomplete-", dir=final.parent)
    )
    try:
        builder = _Builder(
            name=name,
            version=VERSION,
            config=config,
            features=features,
            split_datasets=splits,
            data_dir=staging,
            description=description,
            metadata=metadata,
            supervised_keys=supervised_keys,
        )
        builder.download_and_prepare(
            download_dir=staging / "downloads",
            download_config=tfds.download.DownloadConfig(
                num_shards=num_shards, try_download_gcs=False
            ),
        )
        _move_into_place(epath.Path(builder.data_dir), final, replace)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logging.info("Prepared %s at %s", name, final)
    return tfds.builder_from_directory(final)


def _move_into_place(built, final, replace):
    """Renames the complete dataset `built` to `final`."""
    if replace and final.exists():
        retired = final.with_name(f".{final.name}.old-{uuid.uuid4().hex}")
        os.rename(final, retired)
        os.rename(built, final)
        shutil.rmtree(retired, ignore_errors=True)
        return
    try:
        os.rename(built, final)
    except OSError:
        # `final` appeared meanwhile: keep it if it is a complete dataset.
        if load_prepared(final) is None:
            raise
