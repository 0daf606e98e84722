"""Real photographs cut into distinct JPEGs, for the input-pipeline benchmark.

The photographs are those that scikit-image ships inside its wheel
(`skimage.data`: no download): astronaut, coffee, chelsea (a cat), rocket and
the two views of the motorcycle stereo pair, 300x451 to 500x741 pixels. Each
benchmark image is a different window of one of them, with the target's
aspect ratio, at a random position, its side 75-100% of the largest window
that fits (or of 1.25x the target), randomly mirrored, resized to the target
with Lanczos and encoded by Pillow as a baseline JPEG at quality 90 with
4:2:0 chroma, like most photos. At about 500x375 that resize ranges from a
1.7x upscale (the 300x451 cat in portrait) to a 1.25x downscale.

No shipped photograph reaches 1.5 MP, so images at that size are upscaled
windows (2-4x): smoother than a camera photo of the same size, so they
compress better and decode a little faster per pixel.
"""

import hashlib
import json
import os
import shutil

import numpy as np

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "motorcycle_left", "motorcycle_right")
QUALITY = 90
MAX_SCALE = 1.25  # At most this window side / target side (a downscale).
WINDOW_RANGE = (0.75, 1.0)  # The window's side as a fraction of the largest allowed.
_VERSION = 1  # Bump when the images change, to rebuild cached folders.


def load_photos():
    """{name: uint8 RGB array} of the photographs scikit-image ships."""
    try:
        from skimage import data  # pylint: disable=import-outside-toplevel
    except ImportError as error:
        raise ImportError(
            "The input-pipeline benchmark cuts its images from the photographs that "
            "scikit-image ships; install it with `pip install scikit-image`."
        ) from error
    left, right, _ = data.stereo_motorcycle()
    photos = {
        "astronaut": data.astronaut(), "coffee": data.coffee(), "chelsea": data.chelsea(),
        "rocket": data.rocket(), "motorcycle_left": left, "motorcycle_right": right,
    }
    return {name: np.ascontiguousarray(photos[name][..., :3]) for name in PHOTOS}


def cut(photo, size, rng):
    """One window of `photo` with the aspect ratio of `size` (height, width),
    resized to `size`, mirrored with probability 1/2: uint8 RGB."""
    from PIL import Image  # pylint: disable=import-outside-toplevel

    height, width = size
    photo_height, photo_width = photo.shape[:2]
    # The largest window of the target's aspect ratio that fits in the photo.
    fit = min(photo_height / height, photo_width / width)
    scale = min(fit, MAX_SCALE) * rng.uniform(*WINDOW_RANGE)
    window_height = max(1, min(photo_height, round(height * scale)))
    window_width = max(1, min(photo_width, round(width * scale)))
    top = rng.integers(0, photo_height - window_height + 1)
    left = rng.integers(0, photo_width - window_width + 1)
    window = Image.fromarray(photo[top:top + window_height, left:left + window_width])
    image = np.asarray(window.resize((width, height), Image.Resampling.LANCZOS))
    return image[:, ::-1] if rng.random() < 0.5 else image


def encode(image):
    """Baseline JPEG, quality `QUALITY`, 4:2:0 chroma subsampling."""
    import io  # pylint: disable=import-outside-toplevel

    from PIL import Image  # pylint: disable=import-outside-toplevel

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(
        buffer, format="JPEG", quality=QUALITY, subsampling="4:2:0")
    return buffer.getvalue()


def write_folder(root, *, sizes, counts, seed=0):
    """Writes `root/images/<split>/<photo>/<index>.jpg` for {split: count} `counts`.

    Image i of a split is cut from photo i mod 6 at size `sizes[i % len(sizes)]`
    ((height, width) pairs). Returns `root/images`, the folder to prepare with
    `tfds_configs.prepare_image_folder` (its classes are the photos). A folder written earlier with the
    same arguments (recorded in `root/manifest.json`) is kept as it is, so the
    prepared dataset built from it is reused. Every image is distinct: a
    window whose JPEG repeats an earlier one is drawn again.
    """
    root = os.fspath(root)
    images = os.path.join(root, "images")
    manifest_path = os.path.join(root, "manifest.json")
    manifest = {"version": _VERSION, "sizes": [list(s) for s in sizes],
                "counts": dict(counts), "seed": seed, "quality": QUALITY}
    if os.path.exists(manifest_path):
        with open(manifest_path, encoding="utf-8") as f:
            if json.load(f) == manifest:
                return images
        shutil.rmtree(root)  # Written with other arguments: start afresh.
    photos = load_photos()
    names = list(photos)
    digests = set()
    for split_index, (split, count) in enumerate(sorted(counts.items())):
        rng = np.random.default_rng([seed, split_index])
        for index in range(count):
            name = names[index % len(names)]
            while True:  # Another window when this one repeats an earlier image.
                data = encode(cut(photos[name], sizes[index % len(sizes)], rng))
                digest = hashlib.sha1(data).hexdigest()
                if digest not in digests:
                    break
            digests.add(digest)
            folder = os.path.join(images, split, name)
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, f"{index:05d}.jpg"), "wb") as f:
                f.write(data)
    with open(manifest_path, "w", encoding="utf-8") as f:
        json.dump(manifest, f)
    return images
