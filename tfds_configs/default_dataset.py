"""The embedded default dataset, prepared once as a TFDS dataset in `data_dir`.

Generated procedurally by `synthetic` (no download, no files in the
repository) and stored as `keras_mobile_shapes/<config>/1.0.0`, where the
config name records the seed and split sizes, so variants can coexist and a
later run finds the one it needs without regenerating it.
"""

import tensorflow_datasets as tfds

from keras_mobile import validation
from tfds_configs import _store
from tfds_configs import synthetic

NAME = "keras_mobile_shapes"
SEED = 0
NUM_TRAIN_EXAMPLES = 3000
NUM_EVAL_EXAMPLES = 500
NUM_SHARDS = 16  # Enough files to shard by file over up to 16 input pipelines.


def config_name(seed=SEED, num_train_examples=NUM_TRAIN_EXAMPLES,
                num_eval_examples=NUM_EVAL_EXAMPLES):
    """TFDS config name of one variant, e.g. 'seed0-train3000-eval500'."""
    return f"seed{seed}-train{num_train_examples}-eval{num_eval_examples}"


TFDS_NAME = f"{NAME}/{config_name()}"


def _examples(seed, split, num_examples):
    for index, jpeg, label in synthetic.generate(seed, split, num_examples):
        yield index, {"image": jpeg, "label": label}


def prepare_default_dataset(
    data_dir=None,
    *,
    seed=SEED,
    num_train_examples=NUM_TRAIN_EXAMPLES,
    num_eval_examples=NUM_EVAL_EXAMPLES,
):
    """Returns the prepared builder, generating the dataset on first use.

    Splits are 'train' and 'validation'; features are 'image' (JPEG) and
    'label' (one of `synthetic.CLASS_NAMES`).
    """
    validation.check_int("seed", seed, minimum=0)
    validation.check_int("num_train_examples", num_train_examples, minimum=1)
    validation.check_int("num_eval_examples", num_eval_examples, minimum=1)
    config = config_name(seed, num_train_examples, num_eval_examples)
    builder = _store.load_prepared(_store.dataset_dir(data_dir, NAME, config))
    if builder is not None:
        return builder
    return _store.write_dataset(
        data_dir=data_dir,
        name=NAME,
        config=config,
        features=tfds.features.FeaturesDict(
            {
                "image": tfds.features.Image(shape=(None, None, 3), encoding_format="jpeg"),
                "label": tfds.features.ClassLabel(names=synthetic.CLASS_NAMES),
            }
        ),
        splits={
            "train": _examples(seed, "train", num_train_examples),
            "validation": _examples(seed, "validation", num_eval_examples),
        },
        description=(
            "Procedural shapes and textures (keras_mobile default dataset): "
            f"{len(synthetic.CLASS_NAMES)} classes, JPEG images with sides in "
            f"{synthetic.SIDE_RANGE}, generated from seed {seed}."
        ),
        metadata={"seed": seed, "generator": "tfds_configs.synthetic"},
        num_shards=min(NUM_SHARDS, num_train_examples, num_eval_examples),
    )
