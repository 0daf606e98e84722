"""Regenerate keras_mobile/pretrained/imagenet_classes.txt: the 1000 ImageNet-1k classes in class-index order.

    pip install timm                              # only its data files are read; nothing is imported
    python tools/make_imagenet_classes.py         # or: python tools/make_imagenet_classes.py TIMM_INFO_DIR

Reads timm's ``timm/data/_info/imagenet_synsets.txt`` (the 1000 WordNet ids in the standard class-index
order, n01440764 first) and ``imagenet_synset_to_lemma.txt`` (``id<TAB>lemma, lemma, ...``) and writes one
line ``wordnet_id<TAB>name`` per class, where ``name`` is the first lemma with spaces replaced by underscores
(keras.applications' style: "tench", "great_white_shark"). The lemmas are WordNet's, as distributed by timm
(Apache-2.0). timm is located with ``importlib.util.find_spec`` (not imported, so torch is not needed to load).
"""

import importlib.util
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUTPUT = os.path.join(REPO, "keras_mobile", "pretrained", "imagenet_classes.txt")
CLASSES = 1000


def timm_info_dir():
    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("timm is not installed (pip install timm), or pass its data/_info directory")
    return os.path.join(list(spec.submodule_search_locations)[0], "data", "_info")


def class_lines(info_dir):
    with open(os.path.join(info_dir, "imagenet_synsets.txt"), encoding="utf-8") as f:
        ids = [line.strip() for line in f if line.strip()]
    lemmas = {}
    with open(os.path.join(info_dir, "imagenet_synset_to_lemma.txt"), encoding="utf-8") as f:
        for line in f:
            wnid, _, names = line.rstrip("\n").partition("\t")
            lemmas[wnid] = names
    if len(ids) != CLASSES or len(set(ids)) != CLASSES or ids[0] != "n01440764":
        raise SystemExit(f"{info_dir}/imagenet_synsets.txt: expected {CLASSES} unique ids starting n01440764")
    missing = [wnid for wnid in ids if not lemmas.get(wnid)]
    if missing:
        raise SystemExit(f"no lemma for {missing[:5]} ({len(missing)} ids)")
    return [f"{wnid}\t{lemmas[wnid].split(',')[0].strip().replace(' ', '_')}\n" for wnid in ids]


def main(argv):
    info_dir = argv[1] if len(argv) > 1 else timm_info_dir()
    lines = class_lines(info_dir)
    with open(OUTPUT, "w", encoding="utf-8", newline="\n") as f:
        f.writelines(lines)
    print(f"wrote {len(lines)} classes to {os.path.relpath(OUTPUT, REPO)} from {info_dir}")


if __name__ == "__main__":
    main(sys.argv)
