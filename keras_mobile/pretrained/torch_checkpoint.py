"""Reading a PyTorch-born checkpoint into ``{state-dict key: float32 numpy array}`` (no Keras, torch optional).

``.safetensors`` files are read with the ``safetensors`` package alone. PyTorch pickles (``.pth``,
``.pth.tar``, ``.pt``, ``.bin``, ``.ckpt``, ``.tar``) need torch and are read with
``torch.load(..., weights_only=True)``: a file from the internet cannot run code while it loads, and one that
needs full unpickling is refused with an explanation. The usual wrappings are undone the way timm's
``load_state_dict`` does it (``state_dict_ema`` / ``model_ema`` first, then ``state_dict``, then ``model``;
``module.`` prefixes stripped); ``num_batches_tracked`` counters are dropped. A file its reader cannot parse
(cut short by a failed download, corrupt) raises a ``ValueError`` naming it, with the reader's own message.
"""

import argparse
import os
import pickle
import re

import numpy as np

SAFETENSORS_SUFFIXES = (".safetensors",)
TORCH_SUFFIXES = (".pth", ".pth.tar", ".pt", ".bin", ".ckpt", ".tar")
# Wrapping keys, in timm's order of preference (timm/models/_helpers.py ``load_state_dict(use_ema=True)``):
# a training checkpoint's EMA weights are the ones it evaluated and selected.
WRAPPER_KEYS = ("state_dict_ema", "model_ema", "state_dict", "model")
# Python classes a weights_only load may build besides tensors and containers: timm training checkpoints
# (``CheckpointSaver``, used by the official MobileNeXt code) store their argparse options as ``args``.
SAFE_GLOBALS = (argparse.Namespace,)
_HOW_TO_SAFETENSORS = (
    "or, where torch is installed, save the state dict as .safetensors, which keras_mobile reads without "
    "torch: `from safetensors.torch import save_file; save_file(state_dict, 'model.safetensors')`"
)


def read_checkpoint(path):
    """``{key: float32 ndarray}`` of the checkpoint at ``path``, unwrapped, without ``num_batches_tracked``."""
    if not isinstance(path, (str, os.PathLike)) or not os.path.isfile(path):
        missing = " (no such file)" if isinstance(path, (str, os.PathLike)) else ""
        raise ValueError(f"checkpoint={path!r} is not supported; accepted values: the path of an existing checkpoint "
                         f"file ({', '.join(SAFETENSORS_SUFFIXES + TORCH_SUFFIXES)}){missing}.")
    path = os.fspath(path)
    lowered = path.lower()
    if lowered.endswith(SAFETENSORS_SUFFIXES):
        tensors = _read_safetensors(path)
    elif lowered.endswith(TORCH_SUFFIXES):
        tensors = _read_torch(path)
    else:
        raise ValueError(
            f"checkpoint={path!r}: unknown file type; accepted values: {list(SAFETENSORS_SUFFIXES)} (read with "
            f"the safetensors package) or PyTorch pickles {list(TORCH_SUFFIXES)} (read with torch)."
        )
    return clean_state_dict(unwrap_state_dict(tensors, path))


def unwrap_state_dict(checkpoint, path="checkpoint"):
    """The state dict inside ``checkpoint``: itself, or under one of ``WRAPPER_KEYS`` (timm's order)."""
    if not isinstance(checkpoint, dict):
        raise ValueError(f"{path}: holds a {type(checkpoint).__name__}, not a state dict (a dict of tensors).")
    if checkpoint and all(_is_array(v) for v in checkpoint.values()):
        return checkpoint
    for key in WRAPPER_KEYS:
        inner = checkpoint.get(key)
        if isinstance(inner, dict) and inner:
            return unwrap_state_dict(inner, f"{path}[{key!r}]")
    raise ValueError(
        f"{path}: no state dict found; its top-level keys are {sorted(map(str, checkpoint))[:20]} (accepted: a "
        f"dict of tensors, or one wrapped under one of {list(WRAPPER_KEYS)})."
    )


def clean_state_dict(state_dict):
    """``module.`` prefixes (``nn.DataParallel``) stripped, ``num_batches_tracked`` dropped, float32 arrays."""
    cleaned = {}
    for key, value in state_dict.items():
        key = str(key)
        key = key[len("module."):] if key.startswith("module.") else key
        if key.endswith("num_batches_tracked"):
            continue
        array = _to_numpy(value)
        cleaned[key] = array.astype(np.float32) if np.issubdtype(array.dtype, np.floating) else array
    return cleaned


def _read_safetensors(path):
    try:
        from safetensors import SafetensorError
        from safetensors.numpy import load_file
    except ImportError as err:
        raise ImportError(
            f"reading {path!r} needs the safetensors package: pip install safetensors "
            "(or pip install 'keras_mobile[convert]')."
        ) from err
    try:
        return load_file(path)
    except SafetensorError as error:  # a cut file, a header that is not safetensors' JSON
        raise _corrupt(path, "safetensors", error) from error


def _read_torch(path):
    try:
        import torch
    except ImportError as err:
        raise ImportError(
            f"reading {path!r} (a PyTorch pickle) needs PyTorch: pip install torch (the CPU build is enough); "
            + _HOW_TO_SAFETENSORS + "."
        ) from err
    safe_globals = getattr(torch.serialization, "safe_globals", None)  # torch >= 2.5
    try:
        if safe_globals is None:
            return torch.load(path, map_location="cpu", weights_only=True)
        with safe_globals(list(SAFE_GLOBALS)):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise ValueError(
            f"checkpoint={path!r} needs full unpickling, which can run arbitrary code, so it is refused "
            f"(torch.load(weights_only=True): {_unpickling_reason(err)}). If you trust the file, extract its weights "
            "where torch is installed: `sd = torch.load(path, weights_only=False)['state_dict']` (or the key that "
            "holds them), then `torch.save(sd, 'model.pth')`, " + _HOW_TO_SAFETENSORS + "."
        ) from err
    except (RuntimeError, EOFError) as err:  # a cut zip archive (PytorchStreamReader) or a cut legacy pickle
        raise _corrupt(path, "PyTorch", err) from err


def _corrupt(path, reader, error):
    """The ValueError for a checkpoint its reader cannot parse: named, with the reader's own words."""
    return ValueError(
        f"checkpoint={path!r}: the file is truncated or corrupt; the {reader} reader cannot read it "
        f"({type(error).__name__}: {error}). Download or save it again."
    )


def _unpickling_reason(err):
    """The line of torch's weights_only message that names what was refused (its first line otherwise)."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in str(err).splitlines()]
    lines = [line for line in lines if line]
    named = [line for line in lines if "Unsupported" in line or "WeightsUnpickler error" in line]
    return (named or lines or [type(err).__name__])[0]


def _is_array(value):
    return isinstance(value, np.ndarray) or type(value).__name__ in ("Tensor", "Parameter")


def _to_numpy(value):
    if isinstance(value, np.ndarray):
        return value
    if not _is_array(value):
        raise ValueError(f"state dict value of type {type(value).__name__} is not a tensor.")
    value = value.detach().cpu()
    if value.is_floating_point():
        value = value.float()  # float16 / bfloat16 (which numpy lacks) -> float32
    return value.numpy()
