"""Test helpers: run catalog configs through `tfds.testing.mock_data` offline.

`tfds.testing.mock_data(data_dir=d)` replaces the records of any dataset
with random examples but still reads the dataset's metadata from `d`.
`write_catalog_metadata` writes that metadata (features from the TFDS code,
split sizes made up) so that `sources.load` sees a prepared dataset and the
input pipeline runs end to end without the real data:

    write_catalog_metadata("imagenette", tmp_path)
    with tfds.testing.mock_data(num_examples=8, data_dir=str(tmp_path)):
        source = tfds_configs.load("imagenette", data_dir=tmp_path)
        batch = next(iter(tfds_configs.train_input(source, global_batch_size=4)))
"""

import re

import tensorflow_datasets as tfds

from tfds_configs import configs


def split_names(split):
    """Plain split names in a split expression: 'train[:90%]+validation' ->
    ['train', 'validation']."""
    return [re.sub(r"\[.*\]$", "", part.strip()) for part in split.split("+")]


def write_catalog_metadata(name, data_dir, *, num_examples=64, num_shards=1, tfds_name=None, splits=None):
    """Writes metadata for registered dataset `name` as if prepared in `data_dir`.

    Every split named by the config's train/eval splits gets `num_shards`
    files of `num_examples // num_shards` examples. Returns the builder.
    With `tfds_name` (any TFDS catalog name, for `tfds:` specs; `name` is then
    ignored), `splits` lists the splits to write.
    """
    if tfds_name is None:
        config = configs.get_dataset_config(name)
        tfds_name = config.tfds_name
        names = dict.fromkeys(split_names(config.train_split) + split_names(config.eval_split))
    else:
        names = dict.fromkeys(splits or ("train",))
    builder = tfds.builder(tfds_name, data_dir=data_dir)
    builder.info.set_splits(
        tfds.core.SplitDict(
            [
                tfds.core.SplitInfo(
                    name=split,
                    shard_lengths=[num_examples // num_shards] * num_shards,
                    num_bytes=0,
                    filename_template=tfds.core.ShardedFileTemplate(
                        data_dir=builder.data_path,
                        dataset_name=builder.name,
                        split=split,
                        filetype_suffix="tfrecord",
                    ),
                )
                for split in names
            ]
        )
    )
    builder.data_path.mkdir(parents=True, exist_ok=True)
    builder.info.write_to_directory(builder.data_path)
    return builder
