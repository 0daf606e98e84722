"""``python -m benchmarks.evaluate_imagenet`` on the embedded default dataset (ImageNet is not available here)."""

import keras
import numpy as np

import keras_mobile
import tfds_configs
from benchmarks import evaluate_imagenet
from helpers import assert_topk_matches

RESOLUTION = 32


def _varied_model(source):
    """mobilenetv2_035 at 32 px whose predictions differ between images.

    Freshly initialized, its activations vanish with depth (BatchNormalization's moving statistics are
    0 / 1) and it predicts one class for every image, so top-1 would be the class frequency whatever the
    script did. Setting the moving statistics to one training batch's makes the outputs vary.
    """
    keras.utils.set_random_seed(0)
    model = keras_mobile.create_model("mobilenetv2_035", input_shape=(RESOLUTION, RESOLUTION, 3),
                                      classes=source.config.num_classes)
    batch, _ = next(tfds_configs.eval_input(source, split="train", global_batch_size=128, image_size=RESOLUTION,
                                            normalization="raw").as_numpy_iterator())
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.0
    model(batch, training=True)
    return model


def test_reports_top1_top5_and_count_of_the_models_predictions(tmp_path, default_data_dir, capsys):
    source = tfds_configs.load("default", data_dir=default_data_dir)
    model = _varied_model(source)
    weights = str(tmp_path / "model.weights.h5")
    model.save_weights(weights)

    result = evaluate_imagenet.main(["--model", "mobilenetv2_035", "--weights", weights, "--dataset", "default",
                                     "--data_dir", default_data_dir, "--resolution", str(RESOLUTION),
                                     "--batch_size", "64", "--log_every", "0"])

    # Independently: the same weights' predictions on the same images, all at once, ranked with argmax / top_k.
    images, labels = zip(*tfds_configs.eval_input(source, global_batch_size=500, image_size=RESOLUTION,
                                                  normalization="raw").as_numpy_iterator())
    images, labels = np.concatenate(images), np.concatenate(labels)
    scores = model.predict(images, batch_size=500, verbose=0)
    predicted = scores.argmax(axis=-1)
    assert len(set(predicted.tolist())) >= 5  # the check below can tell a wrong label or order from a right one

    assert result["images"] == len(labels) == tfds_configs.get_dataset_config("default").num_eval_examples == 500
    # the script ran batches of 64, here one of 500: images within rounding of a tie may rank either way
    assert_topk_matches(result["top1"], scores, labels, k=1)
    assert_topk_matches(result["top5"], scores, labels, k=5)
    assert f"top-1 {result['top1']:.4f}, top-5 {result['top5']:.4f}, 500 images" in capsys.readouterr().out


def test_top_k_correct_counts_ties_and_k():
    scores = np.array([[0.1, 0.7, 0.2], [0.5, 0.5, 0.0], [0.3, 0.3, 0.4]])
    labels = np.array([1, 1, 1])
    assert evaluate_imagenet.top_k_correct(scores, labels, 1) == 1  # row 2's tie goes to the lower index (0)
    assert evaluate_imagenet.top_k_correct(scores, labels, 2) == 2  # row 3 ranks 2, 0, 1
    assert evaluate_imagenet.top_k_correct(scores, labels, 3) == 3
    assert evaluate_imagenet.top_k_correct(scores, np.array([2, 2, 0]), 1) == 0
