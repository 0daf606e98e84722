"""``weights="imagenet"``: the ImageNet files keras.applications publishes, fetched as it fetches them.

Each family with published files passes an ``ImagenetFile`` naming its family and architecture
arguments to ``ModelOptions.finish``; ``published_file`` picks the same file keras.applications picks
for the same arguments (file name, URL, md5), ``fetch`` gets it through ``keras.utils.get_file`` into
Keras' cache, and ``legacy_h5.load_by_position`` loads it. Our layers match keras.applications'
weighted layers one to one in order with identical shapes, and our default preprocessing
(``include_preprocessing=True``: [0, 255] RGB -> [-1, 1]) is keras.applications' "tf" mode, so a
model with these weights gives keras.applications' outputs for the same images.

Which file (``published_file``); anything else raises a ``ValueError`` naming the argument and the
accepted values before any file is touched:

* MobileNet (V1): ``alpha`` 0.25, 0.5, 0.75 or 1.0 with ``depth_multiplier=1``; square inputs of
  128, 160, 192 or 224 px load that resolution's file.
* MobileNetV2: ``alpha`` 0.35, 0.5, 0.75 or 1.0 at 96, 128, 160, 192 or 224 px; 1.3 and 1.4 at 224
  px only (keras.applications' URLs for other sizes are 404).
* MobileNetV1/V2 with height or width None (any resolution): the 224 px file (keras.applications'
  fallback).
* MobileNetV3 Large / Small: ``alpha`` 0.75 or 1.0, minimalistic 1.0 only; one file (trained at 224
  px) for every resolution, as in keras.applications.
* Xception: one file for every resolution (trained at 299 px).
* ``include_top=True``: the file with the classifier (``classes`` must be 1000); ``include_top=False``
  and ``features_only``: the file without it (a ``features_only`` model ends before the head, whose
  layers are skipped). Three input channels.

The cache: ``$KERAS_HOME/models/<file>``, else ``~/.keras/models/<file>`` (``/tmp/.keras/models/`` when
that is not writable), read when the weights are loaded (Keras 3's rule, applied on both Keras lines).
A file put there by hand is used as it is; for MobileNetV3 and Xception its md5 must match the
published one. With no cached file and no download, ``ImagenetDownloadError`` (an ``OSError``) names
the URL and that path.
"""

import dataclasses
import os
from typing import Optional

from keras_mobile.backend import keras
from keras_mobile.pretrained import legacy_h5
from keras_mobile.validation import check_choice, check_int, fail

BASE_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"
FAMILIES = ("mobilenet", "mobilenet_v2", "mobilenet_v3", "xception")
IMAGENET_CLASSES = 1000

# keras.applications.MobileNet: alpha -> the text in its file names; resolutions with a file.
MOBILENET_ALPHAS = {0.25: "2_5", 0.5: "5_0", 0.75: "7_5", 1.0: "1_0"}
MOBILENET_ROWS = (128, 160, 192, 224)
# keras.applications.MobileNetV2: alpha -> resolutions with a file (1.3 / 1.4: keras-team/keras#16452).
MOBILENET_V2_ROWS = {
    0.35: (96, 128, 160, 192, 224),
    0.5: (96, 128, 160, 192, 224),
    0.75: (96, 128, 160, 192, 224),
    1.0: (96, 128, 160, 192, 224),
    1.3: (224,),
    1.4: (224,),
}
# keras.applications.MobileNetV3: minimalistic -> alphas with a file; its WEIGHTS_HASHES (top, no top).
MOBILENET_V3_ALPHAS = {False: (0.75, 1.0), True: (1.0,)}
_MOBILENET_V3_HASHES = {
    "large_224_0.75_float": ("765b44a33ad4005b3ac83185abf1d0eb", "40af19a13ebea4e2ee0c676887f69a2e"),
    "large_224_1.0_float": ("59e551e166be033d707958cf9e29a6a7", "07fb09a5933dd0c8eaafa16978110389"),
    "large_minimalistic_224_1.0_float": ("675e7b876c45c57e9e63e6d90a36599c", "ec5221f64a2f6d1ef965a614bdae7973"),
    "small_224_0.75_float": ("cb65d4e5be93758266aa0a7f2c6708b7", "ebdb5cc8e0b497cd13a7c275d475c819"),
    "small_224_1.0_float": ("8768d4c2e7dee89b9d02b2d03d65d862", "d3e8ec802a04aa4fc771ee12a9a9b836"),
    "small_minimalistic_224_1.0_float": ("99cd97fb2fcdad2bf028eb838de69e37", "cde8136e733e811080d9fcd8a252f7e4"),
}
XCEPTION_FILES = ("xception_weights_tf_dim_ordering_tf_kernels.h5",  # (top, no top)
                  "xception_weights_tf_dim_ordering_tf_kernels_notop.h5")
# file name -> the md5 keras.applications passes to get_file (its MobileNet V1 / V2 files have none).
FILE_HASHES = {
    **{f"weights_mobilenet_v3_{name}.h5": top for name, (top, _) in _MOBILENET_V3_HASHES.items()},
    **{f"weights_mobilenet_v3_{name}_no_top_v2.h5": no_top for name, (_, no_top) in _MOBILENET_V3_HASHES.items()},
    XCEPTION_FILES[0]: "0a58e3b7378bc2990ea3b43d5981f1f6",
    XCEPTION_FILES[1]: "b0042744bf5b25fce3cb969f33bebb97",
}


class ImagenetDownloadError(OSError):
    """The published file is not in Keras' cache and could not be downloaded (offline, blocked, corrupted)."""


@dataclasses.dataclass(frozen=True)
class ImagenetFile:
    """The keras.applications ImageNet file a variant loads: its family and architecture arguments.

    family: one of ``FAMILIES`` (keras.applications' module names). alpha: the width multiplier;
    depth_multiplier: MobileNet's; model_type ("large" / "small") and minimalistic: MobileNetV3's.
    The resolution and top come from the built model (``published_file``).
    """

    family: str
    alpha: float = 1.0
    depth_multiplier: int = 1
    model_type: Optional[str] = None
    minimalistic: bool = False

    def __post_init__(self):
        check_choice("family", self.family, FAMILIES)


@dataclasses.dataclass(frozen=True)
class PublishedFile:
    """A file as keras.applications fetches it: its name in the cache, URL and md5 (None: unchecked)."""

    fname: str
    url: str
    md5: Optional[str]


def _unpublished(arg, value, spec, accepted):
    fail(arg, value, f"{accepted} with weights='imagenet' (the {spec.family} files keras.applications publishes; "
                     "other values take weights=None or a local weights file)")


def published_file(spec, input_shape, include_top=True, classes=IMAGENET_CLASSES):
    """The file keras.applications loads for ``spec`` at ``input_shape`` (height, width, channels; height
    and width may be None), with or without the classifier; a ``ValueError`` for an unpublished combination."""
    if include_top and classes != IMAGENET_CLASSES:
        _unpublished("classes", classes, spec, f"{IMAGENET_CLASSES} when include_top=True (or include_top=False "
                                                "for a new classifier)")
    height, width, channels = tuple(input_shape)
    if channels != 3:
        _unpublished("input_shape", tuple(input_shape), spec, "3 channels (RGB)")
    rows = height if height is not None and width is not None else None
    return _SELECTORS[spec.family](spec, rows, (height, width, channels), include_top)


def _resolution(spec, rows, input_shape, published_rows):
    """``rows`` if a file exists at that square resolution, 224 for any resolution; else a ValueError."""
    if rows is None:
        return 224
    if input_shape[0] != input_shape[1] or rows not in published_rows:
        squares = [(r, r, 3) for r in published_rows]
        _unpublished("input_shape", input_shape, spec, f"{squares} for alpha={spec.alpha}, or height and width None "
                                                       "(any resolution: the 224 px file)")
    return rows


def _mobilenet_file(spec, rows, input_shape, include_top):
    if spec.depth_multiplier != 1:
        _unpublished("depth_multiplier", spec.depth_multiplier, spec, "1")
    if spec.alpha not in MOBILENET_ALPHAS:
        _unpublished("alpha", spec.alpha, spec, list(MOBILENET_ALPHAS))
    rows = _resolution(spec, rows, input_shape, MOBILENET_ROWS)
    fname = f"mobilenet_{MOBILENET_ALPHAS[spec.alpha]}_{rows}_tf{'' if include_top else '_no_top'}.h5"
    return PublishedFile(fname, f"{BASE_URL}mobilenet/{fname}", FILE_HASHES.get(fname))


def _mobilenet_v2_file(spec, rows, input_shape, include_top):
    if spec.alpha not in MOBILENET_V2_ROWS:
        _unpublished("alpha", spec.alpha, spec, list(MOBILENET_V2_ROWS))
    rows = _resolution(spec, rows, input_shape, MOBILENET_V2_ROWS[spec.alpha])
    fname = (f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(spec.alpha)}_{rows}"
             f"{'' if include_top else '_no_top'}.h5")
    return PublishedFile(fname, f"{BASE_URL}mobilenet_v2/{fname}", FILE_HASHES.get(fname))


def _mobilenet_v3_file(spec, rows, input_shape, include_top):
    check_choice("model_type", spec.model_type, ("large", "small"))
    accepted = MOBILENET_V3_ALPHAS[bool(spec.minimalistic)]
    if spec.alpha not in accepted:
        qualifier = " and minimalistic=True" if spec.minimalistic else " (1.0 only when minimalistic=True)"
        _unpublished("alpha", spec.alpha, spec, f"{list(accepted)}{qualifier}")
    name = f"{spec.model_type}{'_minimalistic' if spec.minimalistic else ''}_224_{float(spec.alpha)}_float"
    fname = f"weights_mobilenet_v3_{name}{'' if include_top else '_no_top_v2'}.h5"
    return PublishedFile(fname, f"{BASE_URL}mobilenet_v3/{fname}", FILE_HASHES.get(fname))


def _xception_file(spec, rows, input_shape, include_top):
    fname = XCEPTION_FILES[0 if include_top else 1]
    return PublishedFile(fname, f"{BASE_URL}xception/{fname}", FILE_HASHES.get(fname))


_SELECTORS = {
    "mobilenet": _mobilenet_file,
    "mobilenet_v2": _mobilenet_v2_file,
    "mobilenet_v3": _mobilenet_v3_file,
    "xception": _xception_file,
}


# --------------------------------------------------------------------------- the cache and the download
def cache_dir():
    """The directory ``get_file`` keeps its ``models/`` in: ``$KERAS_HOME``, else ``~/.keras``, or
    ``/tmp/.keras`` where that is not writable (Keras 3's rule; read now, not at import)."""
    root = os.path.expanduser(os.environ.get("KERAS_HOME") or os.path.join("~", ".keras"))
    try:
        os.makedirs(os.path.join(root, "models"), exist_ok=True)
    except OSError:
        pass
    return root if os.access(root, os.W_OK) else os.path.join("/tmp", ".keras")


def fetch(published):
    """The local path of ``published``: from Keras' cache, else downloaded into it by ``keras.utils.get_file``
    (which checks the md5, when there is one, of a cached or downloaded file); ``ImagenetDownloadError``
    naming the URL and the cache path when neither works."""
    directory = cache_dir()
    target = os.path.join(directory, "models", published.fname)
    # get_file goes to the network for a cached file only when its md5 does not match: no need to hash it here too.
    stale = bool(published.md5) and os.path.isfile(target)
    try:
        return keras.utils.get_file(published.fname, origin=published.url, cache_subdir="models",
                                    file_hash=published.md5, cache_dir=directory)
    except Exception as error:  # get_file raises a bare Exception for network failures
        found = (f" The file there did not have the published md5 {published.md5}, so Keras tried to download it "
                 "again." if stale else "")
        checksum = f" (md5 {published.md5})" if published.md5 else ""
        raise ImagenetDownloadError(
            f"weights='imagenet': {published.fname} is not in Keras' cache and could not be downloaded from "
            f"{published.url} ({type(error).__name__}: {error}).{found} Download it{checksum} on a machine that can, "
            f"and put it at {target} (the cache: $KERAS_HOME/models, default ~/.keras/models)."
        ) from error


def load_imagenet(model, imagenet, include_top=True, classes=IMAGENET_CLASSES):
    """Load the keras.applications ImageNet file for ``imagenet`` (an ``ImagenetFile``) into ``model``.

    Returns the ``legacy_h5.LoadReport`` (file layer -> model layer pairs, skipped trailing file layers).
    With ``include_top`` and ``classes`` other than 1000, every layer but the classifier is loaded from the
    with-top file and the classifier is new (a ``legacy_h5.NewClassifierWarning`` lists its skipped weights).
    """
    if imagenet is None:
        raise ValueError(
            f"weights='imagenet' is not supported for model '{model.name}' (keras.applications publishes ImageNet "
            "files for MobileNet, MobileNetV2, MobileNetV3 and Xception); accepted values: None or the path of a "
            "local weights file (.weights.h5 or .h5)."
        )
    new_classifier = include_top and classes != IMAGENET_CLASSES
    check_int("classes", classes, minimum=1)
    published = published_file(imagenet, tuple(model.inputs[0].shape)[1:], include_top)
    path = fetch(published)
    source = f"weights='imagenet' ({path})"
    hint = f"if the file is not the one published at {published.url}, delete it to download it again"
    return legacy_h5.load_by_position(model, legacy_h5.read_layers(path, source, hint), source=source, hint=hint,
                                      new_classifier=new_classifier)
