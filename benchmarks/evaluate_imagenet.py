"""Top-1 / top-5 of a model with given weights on a dataset's validation split (ImageNet by default).

    python -m benchmarks.evaluate_imagenet --model mobilenetv2_100 --weights imagenet --data_dir ~/tensorflow_datasets
    python -m benchmarks.evaluate_imagenet --model rexnet_100 --weights rexnet_100.weights.h5 --data_dir DIR
    python -m benchmarks.evaluate_imagenet --model mobilenetv2_035 --weights none --dataset default --resolution 32

From the repository root. ``imagenet2012`` must be prepared by you in ``--data_dir``: TFDS prepares it
offline from ``ILSVRC2012_img_train.tar`` and ``ILSVRC2012_img_val.tar`` (from
https://image-net.org/download-images) in ``<data_dir>/downloads/manual`` or ``--manual_dir``; nothing is
downloaded here. The model is ``keras_mobile.create_model(NAME, weights=..., input_shape=(R, R, 3),
classes=<the dataset's classes>)``, R defaulting to the variant's default resolution; images are read by
``tfds_configs.eval_input`` (centre crop at the dataset's crop fraction, 0.875 for ImageNet, or
``--crop_fraction``; resize to R) as [0, 255] RGB, which our models normalize themselves. Prints top-1,
top-5 and the number of images, and ``main`` returns them.

The evaluation protocol is close to, not identical to, each source's (their resize interpolation and
crop differ: timm bicubic, torchvision bilinear with resize 256 -> crop 224, or 232 -> 224 for
torchvision's ShuffleNetV2 1.5x / 2.0x, i.e. ``--crop_fraction 0.9655``), so expect figures within a few
tenths of a point of the published ones rather than equal to them.
"""

import argparse
import sys

import numpy as np

import keras_mobile
import tfds_configs


def _weights(value):
    return None if value.lower() == "none" else value


def top_k_correct(scores, labels, k):
    """How many rows of ``scores`` have their label among the ``k`` highest scores (ties: lower index first)."""
    ranked = np.argsort(-scores, axis=-1, kind="stable")[:, :k]
    return int(np.sum(np.any(ranked == labels[:, None], axis=-1)))


def evaluate(model, dataset, log_every=0):
    """``{"images", "top1", "top5"}`` of ``model`` on ``dataset`` (batches of (images, integer labels))."""
    images = top1 = top5 = 0
    for step, (batch, labels) in enumerate(dataset.as_numpy_iterator(), 1):
        scores = np.asarray(model.predict_on_batch(batch))
        labels = np.asarray(labels).reshape(-1).astype(np.int64)
        images += len(labels)
        top1 += top_k_correct(scores, labels, 1)
        top5 += top_k_correct(scores, labels, min(5, scores.shape[-1]))
        if log_every and step % log_every == 0:
            print(f"  {images} images: top-1 {top1 / images:.4f}", file=sys.stderr, flush=True)
    if not images:
        raise ValueError("the validation split is empty.")
    return {"images": images, "top1": top1 / images, "top5": top5 / images}


def build_model(name, weights, resolution, classes):
    resolution = resolution or keras_mobile.model_info(name).default_resolution
    return keras_mobile.create_model(name, weights=weights, input_shape=(resolution, resolution, 3),
                                     classes=classes), resolution


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a registered variant, e.g. mobilenetv2_100")
    parser.add_argument("--weights", required=True, type=_weights,
                        help="'imagenet' (keras.applications' files), a weights file, or 'none'")
    parser.add_argument("--dataset", default="imagenet2012", help="a tfds_configs dataset (default: imagenet2012)")
    parser.add_argument("--data_dir", default=None, help="where the prepared TFDS datasets are (TFDS's default)")
    parser.add_argument("--manual_dir", default=None,
                        help="ImageNet's downloaded archives (default: <data_dir>/downloads/manual)")
    parser.add_argument("--resolution", type=int, default=None, help="input size (default: the variant's)")
    parser.add_argument("--crop_fraction", type=float, default=None, help="centre crop (default: the dataset's)")
    parser.add_argument("--batch_size", type=int, default=100)
    parser.add_argument("--log_every", type=int, default=50, help="batches between progress lines (0: none)")
    args = parser.parse_args(argv)

    source = tfds_configs.load(args.dataset, data_dir=args.data_dir, manual_dir=args.manual_dir)
    model, resolution = build_model(args.model, args.weights, args.resolution, source.config.num_classes)
    dataset = tfds_configs.eval_input(source, global_batch_size=args.batch_size, image_size=resolution,
                                      crop_fraction=args.crop_fraction, normalization="raw")
    result = evaluate(model, dataset, log_every=args.log_every)
    print(f"{args.model} (weights={args.weights}) at {resolution} px on {args.dataset} "
          f"{source.config.eval_split}: top-1 {result['top1']:.4f}, top-5 {result['top5']:.4f}, "
          f"{result['images']} images")
    return result


if __name__ == "__main__":
    main()
