"""`python -m benchmarks.input_pipeline`: real photographs, the guide's pipelines, the table."""

import hashlib
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from benchmarks import input_pipeline
from benchmarks import photos

TINY = ["--num_images", "6", "--sizes", "small", "--image_size", "32", "--batch_size", "4",
        "--batches", "2", "--warmup", "1", "--rounds", "1"]


@pytest.fixture(scope="module")
def skimage():
    return pytest.importorskip("skimage", reason="the benchmark cuts scikit-image's photographs")


@pytest.fixture(scope="module")
def small_photos(skimage, tmp_path_factory):  # pylint: disable=redefined-outer-name,unused-argument
    cache = tmp_path_factory.mktemp("cache")
    return cache, input_pipeline.prepare(str(cache), "small", 6)


def test_photos_are_distinct_jpegs_of_the_requested_sizes(small_photos):
    cache, _ = small_photos
    folder = os.path.join(cache, "photos_small_6", "images")
    digests, shapes = set(), []
    for split in ("train", "val"):
        files = sorted(os.path.join(d, f) for d, _, fs in os.walk(os.path.join(folder, split))
                       for f in fs)
        assert len(files) == 6
        for path in files:
            data = open(path, "rb").read()
            assert tf.io.is_jpeg(data)
            digests.add(hashlib.sha1(data).hexdigest())
            shapes.append(tuple(tf.image.extract_jpeg_shape(data).numpy()[:2]))
            pixels = tf.io.decode_jpeg(data).numpy().astype(np.float32)
            assert pixels.std() > 20  # A photograph, not a flat fill.
    assert len(digests) == 12
    assert set(shapes) <= set(input_pipeline.SIZES["small"][1])
    # Written once: a second call with the same arguments keeps the files.
    before = os.path.getmtime(os.path.join(cache, "photos_small_6", "manifest.json"))
    photos.write_folder(os.path.join(cache, "photos_small_6"),
                        sizes=input_pipeline.SIZES["small"][1], counts={"train": 6, "val": 6})
    assert os.path.getmtime(os.path.join(cache, "photos_small_6", "manifest.json")) == before


def test_guide_and_ours_produce_the_same_kind_of_batches(small_photos):
    _, source = small_photos
    for mode in input_pipeline.MODES:
        batches = {}
        for pipeline in input_pipeline.PIPELINES:
            ds = input_pipeline.BUILDERS[(pipeline, mode)](source, batch_size=4, image_size=32)
            images, labels = next(iter(ds))
            assert images.shape == (4, 32, 32, 3) and images.dtype == tf.float32
            assert labels.shape == (4,)
            batches[pipeline] = images.numpy()
        for images in batches.values():
            assert images.min() >= -1.0 - 1e-3 and images.max() <= 1.0 + 1e-3
            assert images.std() > 0.1
    # Eval is in order: the same centre crops (at 224 px, below twice the crops, so
    # without DCT scaling), up to the fused decoder's chroma at the crop's edges.
    guide = next(iter(input_pipeline.guide_eval(source, batch_size=4, image_size=224)))[0]
    ours = next(iter(input_pipeline.ours_eval(source, batch_size=4, image_size=224)))[0]
    assert np.abs(guide.numpy() - ours.numpy()).mean() < 0.005


def test_benchmark_prints_the_table_for_train_and_eval(small_photos, tmp_path, capsys):
    cache, _ = small_photos
    out = tmp_path / "results.json"
    samples = input_pipeline.main(TINY + ["--cache_dir", str(cache), "--no_isolation",
                                          "--json", str(out)])
    assert set(samples) == {("small", mode, pipeline) for mode in input_pipeline.MODES
                            for pipeline in input_pipeline.PIPELINES}
    for runs in samples.values():
        assert len(runs) == 1 and runs[0]["images_per_s"] > 0 and runs[0]["images_per_cpu_s"] > 0
    table = capsys.readouterr().out
    assert "6 train + 6 validation JPEGs" in table and "32 px, batch 4" in table
    assert "| ~500x375 (0.19 MP" in table and "| train |" in table and "| eval |" in table
    assert json.loads(out.read_text())["stats"]["small"]["mean_mp"] > 0.15


def test_the_child_entry_point_prints_one_measurement(small_photos, capsys):
    """What `measure_alone` runs in a fresh process (not spawned here: a child
    imports TensorFlow again, about 10 s)."""
    cache, source = small_photos
    args = input_pipeline.parse_args(TINY + ["--cache_dir", str(cache)])
    spec = dict(dataset=source.config.name, data_dir=args.data_dir, warmup=1, batches=2,
                batch_size=4, image_size=32, pipeline="ours", mode="train", stages=3)
    assert input_pipeline.main(["--measure", json.dumps(spec)]) is None
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["images_per_s"] > 0 and result["cpu_ms_per_image"] > 0


@pytest.mark.parametrize("stages", [1, len(input_pipeline.OURS_STAGES)])
@pytest.mark.parametrize("pipeline", input_pipeline.PIPELINES)
def test_profile_cuts_keep_one_pixel_per_image(small_photos, pipeline, stages):
    _, source = small_photos
    cut = input_pipeline.ours_cut if pipeline == "ours" else input_pipeline.guide_cut
    values, labels = next(iter(cut(source, stages, batch_size=4, image_size=32)))
    assert labels.shape == (4,) and values.shape[0] == 4
    if stages == len(input_pipeline.OURS_STAGES):  # The pixel [0, 0] of each image.
        assert values.shape == (4, 3)
        assert np.all(np.abs(values.numpy()) <= 1.0 + 1e-3)


@pytest.mark.parametrize("argv, message", [
    (["--num_images", "0"], "--num_images must be >= 1"),
    (["--rounds", "0"], "--rounds must be >= 1"),
    (["--sizes", "huge"], "--sizes=huge: accepted values: ['large', 'small']"),
    (["--modes", "train,test"], "--modes=train,test: accepted values: ['train', 'eval']"),
])
def test_benchmark_rejects_bad_flags(argv, message, capsys):
    with pytest.raises(SystemExit):
        input_pipeline.main(argv)
    assert message in capsys.readouterr().err
