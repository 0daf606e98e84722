"""Writes scikit-learn's handwritten digits as an image folder: one sub-folder per class, one PNG per image.

The README's own-images example trains on this folder. The 1,797 digits are real
scans (UCI ML hand-written digits, 8x8 pixels, 16 grey levels) that scikit-learn
ships inside its package, so nothing is downloaded. Pixels are scaled from 0-16
to 0-255 and written as 8x8 grey-level PNGs; the harness reads them as RGB and
resizes them to the model's resolution.

    pip install scikit-learn
    python tools/write_digits_folder.py /tmp/digits      # /tmp/digits/0/0000.png ... /tmp/digits/9/...
    python -m train_tpu --dataset=folder:/tmp/digits ...
"""

import argparse
import os
import sys

import numpy as np


def write_digits(root):
    """Writes the digits under ``root``; returns the number of images written."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
    for index, (image, label) in enumerate(zip(images, digits.target)):
        folder = os.path.join(root, str(int(label)))
        os.makedirs(folder, exist_ok=True)
        Image.fromarray(image, mode="L").save(os.path.join(folder, f"{index:04d}.png"))
    return len(images)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", help="the folder to write (class sub-folders 0-9)")
    args = parser.parse_args(argv)
    if os.path.exists(args.root) and os.listdir(args.root):
        print(f"{args.root} is not empty; choose a new folder.", file=sys.stderr)
        return 1
    print(f"wrote {write_digits(args.root)} images to {args.root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
