"""Datasets and the input pipeline of keras_mobile.

    source = tfds_configs.load("default", data_dir=...)      # or "imagenet2012", ...
    source = tfds_configs.load("folder:/photos", data_dir=...)  # prepared once, reused while unchanged
    source = tfds_configs.load("tfds:oxford_iiit_pet", data_dir=...)  # any TFDS dataset prepared there
    train = tfds_configs.train_input(source, global_batch_size=256, input_context=ctx)
    val = tfds_configs.eval_input(source, global_batch_size=256, input_context=ctx)

Nothing here downloads anything; Keras is imported only for RandAugment,
MixUp and CutMix. Of keras_mobile only `keras_mobile.validation` is used (it
imports no Keras), and nothing here imports train_tpu.
"""

from tfds_configs.configs import DEFAULT_DATASET
from tfds_configs.configs import DatasetConfig
from tfds_configs.configs import get_dataset_config
from tfds_configs.configs import list_datasets
from tfds_configs.configs import register_dataset
from tfds_configs.default_dataset import prepare_default_dataset
from tfds_configs.image_folder import InvalidImagesError
from tfds_configs.image_folder import load_image_folder
from tfds_configs.image_folder import prepare_image_folder
from tfds_configs.pipeline import eval_input
from tfds_configs.pipeline import train_input
from tfds_configs.preprocessing import NORMALIZATIONS
from tfds_configs.sources import DataSource
from tfds_configs.sources import DatasetNotPreparedError
from tfds_configs.sources import ManualDownloadError
from tfds_configs.sources import UnusableDatasetError
from tfds_configs.specs import check_spec
from tfds_configs.specs import load

__all__ = [
    "DEFAULT_DATASET", "DataSource", "DatasetConfig", "DatasetNotPreparedError",
    "InvalidImagesError", "ManualDownloadError", "NORMALIZATIONS", "UnusableDatasetError", "check_spec", "eval_input",
    "get_dataset_config", "list_datasets", "load", "load_image_folder",
    "prepare_default_dataset", "prepare_image_folder", "register_dataset", "train_input",
]
