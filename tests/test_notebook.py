"""The Colab notebook runs top to bottom (CPU, a tiny setting), so it cannot rot."""

import os
import re

import pytest

from helpers import REPO, child_timeout

NOTEBOOK = os.path.join(REPO, "notebooks", "train_on_your_images.ipynb")


@pytest.mark.slow
def test_notebook_runs_top_to_bottom(tmp_path, default_data_dir, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("KERAS_MOBILE_NOTEBOOK_SMOKE", "1")
    monkeypatch.setenv("KERAS_MOBILE_NOTEBOOK_DATA_DIR", default_data_dir)
    monkeypatch.setenv("KERAS_MOBILE_NOTEBOOK_MODEL_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(notebook, timeout=int(child_timeout(300)), kernel_name="python3",
                            resources={"metadata": {"path": REPO}}).execute()
    outputs = {i: "".join(o.get("text", "") for o in cell.get("outputs", []))
               for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"}
    text = "\n".join(outputs.values())
    assert "training on: CPU" in text
    assert "eval: {'eval_top1':" in text
    # the last cell: the exported files, the example's class, then predict's top-5 for it
    lines = outputs[max(outputs)].splitlines()
    assert "labels.txt" in lines[0] and "model_int8.tflite" in lines[0]
    true_class = next(line for line in lines if line.startswith("true class: "))[len("true class: "):]
    predicted = [line for line in lines[lines.index(f"true class: {true_class}") + 1:] if line]
    assert predicted[0].endswith("example.png") and len(predicted) == 6
    with open(os.path.join(tmp_path / "run" / "export" / "labels.txt")) as f:
        names = f.read().splitlines()
    assert true_class in names and all(re.fullmatch(r"  \d\.\d{4}  (\S+)", p).group(1) in names for p in predicted[1:])
    images = [p for p in os.listdir(tmp_path / "run") if p.endswith(".png")]
    assert sorted(images) == ["confusion_matrix.png", "example.png"]
    assert os.path.isfile(tmp_path / "run" / "export" / "labels.txt")
