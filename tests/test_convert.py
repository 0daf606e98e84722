"""keras_mobile.convert: PyTorch-born checkpoints -> .weights.h5, checked against the references without torch.

The fixtures (tests/fixtures/torch_reference/, made by tools/make_torch_fixtures.py where torch is installed)
hold each reference's state-dict keys and shapes and its logits on two seeded images with seeded weights;
here the same weights are rebuilt with numpy (tests/torch_fixtures.py), written as .safetensors, converted,
loaded with ``weights=`` and run on the same images.
"""

import os
import re
import sys
import types

import numpy as np
import pytest

import keras_mobile
from keras_mobile import convert
from keras_mobile.convert import convert_weights
from keras_mobile.pretrained import torch_checkpoint
from keras_mobile.pretrained.torch_mapping import CheckpointMismatch
from keras_mobile.pretrained.legacy_h5 import NewClassifierWarning
from torch_fixtures import load_fixture, seeded_images, seeded_state_dict

safetensors_numpy = pytest.importorskip("safetensors.numpy")

REFERENCE_MODELS = ["rexnet_100", "mixnet_s", "shufflenet_v2_x0_5", "squeezenet1_1", "shufflenet_v1_g3_050",
                    "mobilenext_035"]
# One family also on the tf_keras line: its save_weights / weights= round trip (Conv2D, DepthwiseConv2D, BN, Dense).
BOTH_LINES = "shufflenet_v2_x0_5"
TOLERANCE = 1e-4  # of the largest reference logit (float64-computed); ours are within 7e-6, torch float32 within 4e-6


def write_checkpoint(directory, state_dict, name="checkpoint.safetensors"):
    path = os.path.join(str(directory), name)
    safetensors_numpy.save_file({k: np.ascontiguousarray(v) for k, v in state_dict.items()}, path)
    return path


def fixture_checkpoint(directory, model_name, **replace_shapes):
    """The seeded reference state dict of ``model_name`` as .safetensors (megvii's ``module.`` prefixes)."""
    spec, _ = load_fixture(model_name)
    keys_and_shapes = [(k, replace_shapes.get(k, s)) for k, s in spec["state_dict"]]
    state_dict = seeded_state_dict(keys_and_shapes, spec["seed"])
    if model_name.startswith("shufflenet_v1"):  # megvii saves nn.DataParallel's state dict
        state_dict = {f"module.{k}": v for k, v in state_dict.items()}
    return write_checkpoint(directory, state_dict)


@pytest.mark.parametrize("model_name", [
    pytest.param(name, marks=pytest.mark.both_lines) if name == BOTH_LINES else name for name in REFERENCE_MODELS])
def test_converted_model_matches_reference(model_name, tmp_path):
    spec, expected = load_fixture(model_name)
    checkpoint = fixture_checkpoint(tmp_path, model_name)
    out = str(tmp_path / f"{model_name}.weights.h5")
    assert convert_weights(checkpoint, model_name, out) == out
    assert sorted(os.listdir(tmp_path)) == sorted(["checkpoint.safetensors", f"{model_name}.weights.h5"])

    size = spec["resolution"]
    model = keras_mobile.create_model(model_name, weights=out, input_shape=(size, size, 3),
                                      classifier_activation=None)
    images = seeded_images(spec["seed"], spec["images"], size)  # [0, 255] RGB; the model normalizes
    actual = np.asarray(model(images, training=False))
    scale = float(np.abs(expected).max())
    assert actual.shape == expected.shape == (spec["images"], 1000)
    np.testing.assert_allclose(actual, expected, rtol=0, atol=TOLERANCE * scale)


def test_family_builder_loads_converted_file_and_classes_follow_checkpoint(tmp_path):
    checkpoint = fixture_checkpoint(tmp_path, "squeezenet1_1", **{"classifier.1.weight": [10, 512, 1, 1],
                                                                   "classifier.1.bias": [10]})
    out = str(tmp_path / "sub" / "squeezenet_10.weights.h5")  # a missing directory is created
    convert_weights(checkpoint, "squeezenet1_1", out)
    model = keras_mobile.SqueezeNet(version="1.1", classes=10, weights=out)
    assert model.output_shape == (None, 10)
    with pytest.warns(NewClassifierWarning, match="logits_conv"):  # 1000 classes, the file has 10: a new classifier
        keras_mobile.create_model("squeezenet1_1", weights=out)


def test_other_width_names_first_shape_that_differs(tmp_path):
    checkpoint = fixture_checkpoint(tmp_path, "rexnet_100")
    out = tmp_path / "rexnet_130.weights.h5"
    with pytest.raises(CheckpointMismatch) as info:
        convert_weights(checkpoint, "rexnet_130", str(out))
    error = info.value
    assert error.missing == [] and error.unexpected == []  # same layout, other widths
    key, found, wanted, layer, _ = error.shape_mismatch
    assert (key, found, layer) == ("stem.conv.weight", (32, 3, 3, 3), "stem_conv") and wanted != found
    assert "first shape that differs: stem.conv.weight is (32, 3, 3, 3) in the checkpoint" in str(error)
    assert not out.exists() and os.listdir(tmp_path) == ["checkpoint.safetensors"]


def test_other_variant_lists_missing_and_unexpected_keys(tmp_path):
    checkpoint = fixture_checkpoint(tmp_path, "mixnet_s")
    with pytest.raises(CheckpointMismatch) as info:
        convert_weights(checkpoint, "mixnet_m", str(tmp_path / "mixnet_m.weights.h5"))
    error = info.value
    assert "blocks.5.3.conv_pw.weight" in error.missing  # mixnet_m's last stage has 4 blocks, mixnet_s's 3
    assert "blocks.1.0.conv_dw.weight" in error.unexpected  # mixnet_m's first "ir" block mixes 3 kernels
    message = str(error)
    assert "missing keys (" in message and "unexpected keys (" in message and "first shape that differs" in message
    assert os.listdir(tmp_path) == ["checkpoint.safetensors"]


def test_torch_pickle_without_torch_says_how(tmp_path, monkeypatch):
    path = tmp_path / "model.pth"
    path.write_bytes(b"not read")
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError, torch installed or not
    with pytest.raises(ImportError, match=r"pip install torch.*safetensors"):
        convert_weights(str(path), "squeezenet1_1", str(tmp_path / "out.weights.h5"))


def test_unwrap_follows_timm_and_strips_module_prefix():
    weight = np.ones((2, 3), np.float32)
    plain = {"fc.weight": weight}
    assert torch_checkpoint.unwrap_state_dict(plain) is plain
    assert torch_checkpoint.unwrap_state_dict({"state_dict": plain, "epoch": 3, "arch": "x"}) is plain
    assert torch_checkpoint.unwrap_state_dict({"model": plain, "optimizer": {}}) is plain
    ema = {"fc.weight": weight * 2}
    assert torch_checkpoint.unwrap_state_dict({"state_dict": plain, "state_dict_ema": ema}) is ema
    cleaned = torch_checkpoint.clean_state_dict({"module.fc.weight": weight.astype(np.float64),
                                                 "module.bn.num_batches_tracked": np.zeros((), np.int64)})
    assert list(cleaned) == ["fc.weight"] and cleaned["fc.weight"].dtype == np.float32
    with pytest.raises(ValueError, match=r"no state dict found; its top-level keys are \['args', 'epoch'\]"):
        torch_checkpoint.unwrap_state_dict({"epoch": 1, "args": "x"})
    with pytest.raises(ValueError, match="not a state dict"):
        torch_checkpoint.unwrap_state_dict([weight])


def test_bad_arguments(tmp_path):
    checkpoint = str(tmp_path / "model.safetensors")
    with pytest.raises(ValueError, match="no such file"):
        convert_weights(checkpoint, "squeezenet1_1", str(tmp_path / "out.weights.h5"))
    with pytest.raises(ValueError, match=r"ending in '\.weights\.h5'"):
        convert_weights(checkpoint, "squeezenet1_1", str(tmp_path / "out.h5"))
    with pytest.raises(ValueError, match=r"\['classes'\] are set by the converter"):
        convert_weights(checkpoint, "squeezenet1_1", str(tmp_path / "out.weights.h5"), classes=10)
    with pytest.raises(ValueError, match=r"model_name='mobilenetv2_035' is not supported; .*'squeezenet'.*the "
                                         r"mobilenetv2 family has none"):
        convert_weights(checkpoint, "mobilenetv2_035", str(tmp_path / "out.weights.h5"))


@pytest.mark.parametrize("name", ["model.onnx", "weights.npz", "notes.txt", "model.h5"])
def test_unknown_format_names_the_accepted_extensions(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"\x00" * 64)
    message = (rf"checkpoint='{re.escape(str(path))}': unknown file type; accepted values: \['\.safetensors'\] \(read "
               r"with the safetensors package\) or PyTorch pickles \['\.pth', '\.pth\.tar', '\.pt', '\.bin', '\.ckpt', "
               r"'\.tar'\] \(read with torch\)\.")
    with pytest.raises(ValueError, match=message):
        convert_weights(str(path), "squeezenet1_1", str(tmp_path / "out.weights.h5"))


def _cut_in_half(path):
    """``path`` with its second half gone, as a download that stopped half way leaves it."""
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[:len(data) // 2])
    return path


def test_truncated_safetensors_names_the_file_and_says_truncated(tmp_path):
    checkpoint = _cut_in_half(fixture_checkpoint(tmp_path, "squeezenet1_1"))
    message = (rf"^checkpoint='{re.escape(checkpoint)}': the file is truncated or corrupt; the safetensors reader "
               r"cannot read it \(SafetensorError: .*incomplete metadata.*\)\. Download or save it again\.$")
    with pytest.raises(ValueError, match=message) as info:
        convert_weights(checkpoint, "squeezenet1_1", str(tmp_path / "out.weights.h5"))
    assert type(info.value.__cause__).__name__ == "SafetensorError"  # the library's error, chained
    assert os.listdir(tmp_path) == ["checkpoint.safetensors"]
    assert convert.main([checkpoint, "--model", "squeezenet1_1", "--out", str(tmp_path / "out.weights.h5")]) == 1


def test_truncated_torch_pickle_names_the_file_and_says_truncated(tmp_path):
    torch = pytest.importorskip("torch")
    path = str(tmp_path / "model.pth")
    torch.save({"features.0.weight": torch.ones(64, 3, 3, 3), "features.0.bias": torch.zeros(64)}, path)
    message = (rf"^checkpoint='{re.escape(_cut_in_half(path))}': the file is truncated or corrupt; the PyTorch "
               r"reader cannot read it \(RuntimeError: ")
    with pytest.raises(ValueError, match=message):
        torch_checkpoint.read_checkpoint(path)


def test_truncated_torch_pickle_error_is_wrapped_without_torch(tmp_path, monkeypatch):
    """torch.load's error for a cut zip archive (what torch.save writes), from a stand-in for torch."""
    def load(*args, **kwargs):
        raise RuntimeError("PytorchStreamReader failed reading zip archive: failed finding central directory")

    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(load=load, serialization=types.SimpleNamespace()))
    path = tmp_path / "model.pth.tar"
    path.write_bytes(b"PK\x03\x04")
    message = (rf"^checkpoint='{re.escape(str(path))}': the file is truncated or corrupt; the PyTorch reader cannot "
               r"read it \(RuntimeError: PytorchStreamReader failed reading zip archive: failed finding central "
               r"directory\)\. Download or save it again\.$")
    with pytest.raises(ValueError, match=message):
        torch_checkpoint.read_checkpoint(str(path))


def test_failed_write_leaves_old_file_and_no_partial_file(tmp_path, monkeypatch):
    checkpoint = fixture_checkpoint(tmp_path, "squeezenet1_1")
    out = tmp_path / "squeezenet.weights.h5"
    out.write_bytes(b"previous")

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(convert.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        convert_weights(checkpoint, "squeezenet1_1", str(out))
    assert out.read_bytes() == b"previous"
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.safetensors", "squeezenet.weights.h5"]


def test_cli_exit_codes(tmp_path, capsys):
    checkpoint = fixture_checkpoint(tmp_path, "squeezenet1_1")
    out = str(tmp_path / "squeezenet.weights.h5")
    assert convert.main([checkpoint, "--model", "squeezenet1_1", "--out", out]) == 0
    assert os.path.isfile(out) and f"wrote {out}" in capsys.readouterr().out

    assert convert.main([checkpoint, "--model", "squeezenet1_0", "--out", str(tmp_path / "x.weights.h5")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("keras_mobile.convert: the checkpoint does not fit model 'squeezenet1_0'") and "missing keys" in err
    assert len(err.strip().splitlines()) == 1
    assert convert.main([checkpoint, "--model", "no_such_model", "--out", out]) == 1
    assert capsys.readouterr().err.startswith("keras_mobile.convert: --model='no_such_model' is not supported")
    with pytest.raises(SystemExit) as info:
        convert.main([checkpoint, "--model", "squeezenet1_1"])  # --out missing: argparse's usage error
    assert info.value.code == 2
