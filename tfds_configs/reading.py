"""Reads one split as (encoded image, label) records, sharded per input pipeline.

With a `tf.distribute.InputContext`, each input pipeline reads a disjoint
part of the split: whole files when the split has at least one file per
pipeline (cheap: a pipeline never opens the others' files), otherwise every
N-th example of a fixed, unshuffled order. Either way the parts partition
the split: no example is lost or read twice.
"""

from absl import logging
import tensorflow_datasets as tfds

from keras_mobile import validation

SHARD_BY_FILE = "file"
SHARD_BY_EXAMPLE = "example"
NO_SHARDING = "none"


def sharding_mode(num_files, input_context):
    """How `read_split` splits `num_files` files over the input pipelines."""
    num_pipelines = input_context.num_input_pipelines if input_context else 1
    if num_pipelines == 1:
        return NO_SHARDING
    return SHARD_BY_FILE if num_files >= num_pipelines else SHARD_BY_EXAMPLE


def _split_info(builder, split):
    try:
        return builder.info.splits[split]
    except (KeyError, ValueError):  # TFDS's error stays attached as the context.
        splits = sorted(builder.info.splits.keys())
        validation.fail("split", split,
                        f"a split (or split expression) of {builder.info.full_name}: {splits}")


def _check_features(builder, image_key, label_key):
    features = builder.info.features
    keys = sorted(features.keys())
    if image_key not in keys or not isinstance(features[image_key], tfds.features.Image):
        validation.fail("image_key", image_key,
                        f"an image feature of {builder.info.full_name} (features: {keys})")
    if label_key not in keys or not isinstance(
        features[label_key], tfds.features.ClassLabel
    ):
        validation.fail("label_key", label_key,
                        f"a class-label feature of {builder.info.full_name} (features: {keys})")


def read_split(source, split, *, input_context=None, shuffle_files=False, seed=None):
    """Dataset of `(encoded_image: tf.string, label: tf.int64)` for this pipeline.

    The label keeps TFDS's dtype: a map that only restructures the element
    costs nothing, one that runs an op (even a cast) adds a function call per
    example, so consumers cast in the map they run anyway.

    `shuffle_files` reshuffles the file order each epoch (seeded by `seed`);
    it is ignored when sharding by example, which needs a fixed order.
    """
    builder, config = source.builder, source.config
    _check_features(builder, config.image_key, config.label_key)
    num_files = len(_split_info(builder, split).file_instructions)
    mode = sharding_mode(num_files, input_context)
    logging.info(
        "Reading %s[%s]: %d files, sharding: %s", builder.info.full_name, split,
        num_files, mode,
    )
    read_config = tfds.ReadConfig(
        input_context=input_context if mode == SHARD_BY_FILE else None,
        shuffle_seed=seed,
        shuffle_reshuffle_each_iteration=True,
        interleave_block_length=1,
        # TFDS keeps splits of small datasets (up to 250 MiB) in memory after
        # the first pass, unless reshuffling several files; reading from
        # memory halves the per-image cost of reading on such datasets.
        try_autocache=True,
    )
    ds = builder.as_dataset(
        split=split,
        decoders=tfds.decode.PartialDecoding(
            {config.image_key: True, config.label_key: True},
            decoders={config.image_key: tfds.decode.SkipDecoding()},
        ),
        read_config=read_config,
        shuffle_files=shuffle_files and mode != SHARD_BY_EXAMPLE,
    )
    if mode == SHARD_BY_EXAMPLE:
        ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    return ds.map(lambda ex: (ex[config.image_key], ex[config.label_key]))
