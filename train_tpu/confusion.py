"""Per-class results of an evaluation: accuracy per class and a confusion-matrix picture.

    per_class = per_class_accuracy(matrix, class_names)      # {"accuracy": {name: top-1}, "examples": {...}}
    png = confusion_png(matrix, class_names, title="...")   # PNG bytes, class names on the axes

``matrix[i, j]`` counts eval images of true class ``i`` predicted as ``j``
(``Trainer.last_confusion_matrix``).
"""

import io

import numpy as np

MAX_NAMED_TICKS = 60  # above this many classes the axes show class ids every few ticks instead of every name


def per_class_accuracy(matrix, class_names):
    """``{"accuracy": {name: correct / examples}, "examples": {name: examples}}`` (None where a class has none)."""
    matrix = np.asarray(matrix)
    counts = matrix.sum(axis=1)
    correct = np.diag(matrix)
    return {
        "accuracy": {name: (float(c / n) if n else None) for name, c, n in zip(class_names, correct, counts)},
        "examples": {name: int(n) for name, n in zip(class_names, counts)},
    }


def confusion_png(matrix, class_names, title=""):
    """The confusion matrix as a PNG (rows: true class, columns: predicted; each row normalised to 1)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    matrix = np.asarray(matrix, np.float64)
    n = len(class_names)
    rows = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    side = min(max(4.0, 0.35 * n + 2.5), 24.0)
    fig, ax = plt.subplots(figsize=(side + 1.2, side))
    image = ax.imshow(rows, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    if n <= MAX_NAMED_TICKS:
        ax.set_xticks(range(n), class_names, rotation=90)
        ax.set_yticks(range(n), class_names)
        if n <= 20:
            for i in range(n):
                for j in range(n):
                    if matrix[i, j]:
                        ax.text(j, i, int(matrix[i, j]), ha="center", va="center", fontsize=8,
                                color="white" if rows[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()
