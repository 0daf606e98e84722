"""Dataset configs: one registry entry per supported dataset.

An entry says where the data comes from (its TFDS name and how it gets
prepared), which splits train and evaluate, how many classes and examples it
has, which features hold the image and the label, and the default train/eval
resolution and eval crop fraction. Example counts are the published ones;
the prepared dataset's own `builder.info` is authoritative once it exists.
"""

import dataclasses

from keras_mobile import validation
from tfds_configs import default_dataset

DEFAULT_DATASET = "default"

# How a dataset gets into `data_dir`:
#   catalog:   `tfds build <tfds_name>` on a machine with internet access;
#   manual:    TFDS prepares it offline from archives the user downloads;
#   generated: this package generates it locally (no download).
#   folder:    this package converts a local folder of images.
ORIGINS = ("catalog", "manual", "generated", "folder")
_POSITIVE_INT = validation.interval(1, integer=True)


@dataclasses.dataclass(frozen=True)
class DatasetConfig:
    """Everything the input pipeline and the harness need to know about a dataset."""

    name: str
    tfds_name: str
    num_classes: int = dataclasses.field(metadata=validation.interval(2, integer=True))
    num_train_examples: int = dataclasses.field(metadata=_POSITIVE_INT)
    num_eval_examples: int = dataclasses.field(metadata=_POSITIVE_INT)
    train_split: str = "train"
    eval_split: str = "validation"
    image_key: str = "image"
    label_key: str = "label"
    train_resolution: int = dataclasses.field(default=224, metadata=_POSITIVE_INT)
    eval_resolution: int = dataclasses.field(default=224, metadata=_POSITIVE_INT)
    crop_fraction: float = dataclasses.field(
        default=0.875, metadata=validation.interval(0, 1, low_open=True))
    origin: str = dataclasses.field(default="catalog", metadata=validation.one_of(*ORIGINS))
    manual_files: tuple = ()
    manual_url: str = ""

    def __post_init__(self):
        validation.check_fields(self)
        if (self.origin == "manual") != bool(self.manual_files):
            raise ValueError(
                "manual_files must be given exactly when origin='manual'; "
                f"got origin={self.origin!r}, manual_files={self.manual_files!r}."
            )


_REGISTRY = {}


def register_dataset(config, *, overwrite=False):
    """Adds `config` to the registry under `config.name`; returns it."""
    if not isinstance(config, DatasetConfig):
        raise ValueError(f"config must be a DatasetConfig; got {type(config).__name__}.")
    if config.name in _REGISTRY and not overwrite:
        raise ValueError(
            f"A dataset named {config.name!r} is already registered; "
            "pass overwrite=True to replace it."
        )
    _REGISTRY[config.name] = config
    return config


def list_datasets():
    """Names of all registered datasets, sorted."""
    return sorted(_REGISTRY)


def get_dataset_config(name):
    """The registered config called `name`; unknown names list the known ones."""
    return _REGISTRY[validation.check_choice("name", name, list_datasets())]


for _config in (
    DatasetConfig(
        name=DEFAULT_DATASET,
        tfds_name=default_dataset.TFDS_NAME,
        num_classes=10,
        num_train_examples=default_dataset.NUM_TRAIN_EXAMPLES,
        num_eval_examples=default_dataset.NUM_EVAL_EXAMPLES,
        train_resolution=128,
        eval_resolution=128,
        origin="generated",
    ),
    DatasetConfig(
        name="imagenet2012",
        tfds_name="imagenet2012",
        num_classes=1000,
        num_train_examples=1_281_167,
        num_eval_examples=50_000,
        origin="manual",
        manual_files=("ILSVRC2012_img_train.tar", "ILSVRC2012_img_val.tar"),
        manual_url="https://image-net.org/download-images",
    ),
    DatasetConfig(
        name="imagenette",
        tfds_name="imagenette/full-size-v2",
        num_classes=10,
        num_train_examples=9_469,
        num_eval_examples=3_925,
    ),
    DatasetConfig(
        name="stanford_dogs",
        tfds_name="stanford_dogs",
        num_classes=120,
        num_train_examples=12_000,
        num_eval_examples=8_580,
        eval_split="test",
    ),
    DatasetConfig(
        name="oxford_flowers102",
        tfds_name="oxford_flowers102",
        num_classes=102,
        num_train_examples=2_040,
        num_eval_examples=6_149,
        train_split="train+validation",
        eval_split="test",
    ),
    DatasetConfig(
        name="food101",
        tfds_name="food101",
        num_classes=101,
        num_train_examples=75_750,
        num_eval_examples=25_250,
    ),
    DatasetConfig(
        name="cifar10",
        tfds_name="cifar10",
        num_classes=10,
        num_train_examples=50_000,
        num_eval_examples=10_000,
        eval_split="test",
        train_resolution=32,
        eval_resolution=32,
        crop_fraction=1.0,
    ),
    DatasetConfig(
        name="cifar100",
        tfds_name="cifar100",
        num_classes=100,
        num_train_examples=50_000,
        num_eval_examples=10_000,
        eval_split="test",
        train_resolution=32,
        eval_resolution=32,
        crop_fraction=1.0,
    ),
):
    register_dataset(_config)
