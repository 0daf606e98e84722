"""Regenerate tests/fixtures/torch_reference/: reference key lists and outputs for tests/test_convert.py.

    pip install torch timm torchvision      # the CPU builds are enough
    python tools/make_torch_fixtures.py     # [MODEL ...] to regenerate only some

For one model per PyTorch-born family it builds the reference implementation (timm, torchvision, or the
authors' code vendored under tools/reference_models/ where it is no pip package), fills it with the seeded
weights of ``tests/torch_fixtures.seeded_state_dict`` (numpy, so the test rebuilds them without torch), runs
two seeded [0, 255] RGB images through it, normalized the reference's way, and writes

- ``<model>.json``: the reference, the package versions, resolution, seed, input normalization and the
  reference state dict's keys and shapes;
- ``<model>_logits.npy``: the reference's logits, computed in float64 and stored as float32 (so the test's
  tolerance covers only our float32 rounding; the reference's own float32 noise is printed and stored as
  ``float32_noise``: max |fp32 - fp64| / max |fp64|).

No weights are written. The test converts the seeded state dict with ``keras_mobile.convert_weights`` and
compares our model's logits on the same images with these.
"""

import json
import os
import sys

import numpy as np
import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))
from torch_fixtures import FIXTURES, reference_input, seeded_images, seeded_state_dict  # noqa: E402

SEED = 0
IMAGES = 2
VENDORED = os.path.join(REPO, "tools", "reference_models")


def _timm(name):
    import timm

    return timm.create_model(name, pretrained=False), f"timm {timm.__version__} timm.create_model({name!r})"


def _torchvision(name):
    import torchvision

    model = getattr(torchvision.models, name)(weights=None)
    return model, f"torchvision {torchvision.__version__.split('+')[0]} torchvision.models.{name}()"


def _megvii_shufflenet_v1(groups, size):
    sys.path.insert(0, os.path.join(VENDORED, "megvii_shufflenet_v1"))
    from network import ShuffleNetV1

    return (ShuffleNetV1(group=groups, model_size=size),
            "megvii-model/ShuffleNet-Series@aa91feb ShuffleNetV1/network.py "
            f"ShuffleNetV1(group={groups}, model_size={size!r}) (tools/reference_models/megvii_shufflenet_v1)")


def _mobilenext(width):
    sys.path.insert(0, os.path.join(VENDORED, "mobilenext"))
    from mnext import MXNet

    return (MXNet(width_mult=width),
            f"yitu-opensource/MobileNeXt@10f7805 mobilenext/codebase/models/mnext.py MXNet(width_mult={width}) "
            "(tools/reference_models/mobilenext)")


# our model -> (reference builder, input resolution, the reference's input normalization). ShuffleNetV1
# runs at 224 px: its AvgPool2d(7) is the global pool only there.
CASES = {
    "rexnet_100": (lambda: _timm("rexnet_100"), 64, "imagenet"),
    "mixnet_s": (lambda: _timm("mixnet_s"), 64, "imagenet"),
    "shufflenet_v2_x0_5": (lambda: _torchvision("shufflenet_v2_x0_5"), 64, "imagenet"),
    "squeezenet1_1": (lambda: _torchvision("squeezenet1_1"), 64, "imagenet"),
    "shufflenet_v1_g3_050": (lambda: _megvii_shufflenet_v1(3, "0.5x"), 224, "raw_bgr"),
    "mobilenext_035": (lambda: _mobilenext(0.35), 64, "imagenet"),
}


def make(name):
    build, resolution, normalization = CASES[name]
    model, reference = build()
    model.eval()
    keys_and_shapes = [(key, list(value.shape)) for key, value in model.state_dict().items()]
    state_dict = seeded_state_dict(keys_and_shapes, SEED)
    model.load_state_dict({key: torch.from_numpy(value) for key, value in state_dict.items()}, strict=True)
    x = torch.from_numpy(reference_input(seeded_images(SEED, IMAGES, resolution), normalization))
    with torch.no_grad():
        y32 = model(x).numpy()
        y64 = model.double()(x.double()).numpy()
    scale = float(np.abs(y64).max())
    noise = float(np.abs(y32 - y64).max()) / scale
    spec = {
        "model": name,
        "reference": reference,
        "torch": torch.__version__.split("+")[0],
        "seed": SEED,
        "images": IMAGES,
        "resolution": resolution,
        "input": normalization,
        "float32_noise": float(f"{noise:.3g}"),
        "state_dict": keys_and_shapes,
    }
    with open(os.path.join(FIXTURES, f"{name}.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps({k: v for k, v in spec.items() if k != "state_dict"}, indent=1)[:-2])
        f.write(',\n "state_dict": [\n' + ",\n".join(json.dumps(item) for item in keys_and_shapes) + "\n ]\n}\n")
    np.save(os.path.join(FIXTURES, f"{name}_logits.npy"), y64.astype(np.float32))
    print(f"{name:22s} {len(keys_and_shapes):4d} keys  logits {tuple(y64.shape)}  max|y| {scale:.3g}  "
          f"torch fp32 vs fp64 {noise:.2g} (relative)  <- {reference}")


def main(argv):
    names = argv or list(CASES)
    unknown = sorted(set(names) - set(CASES))
    if unknown:
        raise SystemExit(f"error: unknown models {unknown}; accepted: {list(CASES)}")
    os.makedirs(FIXTURES, exist_ok=True)
    torch.manual_seed(SEED)
    for name in names:
        make(name)


if __name__ == "__main__":
    main(sys.argv[1:])
