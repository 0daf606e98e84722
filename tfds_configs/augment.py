"""RandAugment, MixUp and CutMix from Keras 3, run inside tf.data.

Keras is imported only when one of them is requested, never at module import.
The Keras layers draw their magnitudes from seeded stateful generators, so
they reproduce run after run only when their map runs sequentially (the
pipeline does that in deterministic mode).
"""

import tensorflow as tf

MIX_SWITCH_PROBABILITY = 0.5  # With both mixes on: chance a batch uses CutMix.


def rand_augment(num_ops, factor, seed):
    """`(image, label, element_seed) -> (image, label)`: RandAugment on one image.

    The ops and their magnitudes are those of `keras.layers.RandAugment`;
    the `num_ops` ops are picked from the stateless `element_seed` and run
    through `tf.switch_case`, so only the chosen ops execute (the Keras layer
    evaluates all of them and masks, about 3x slower per image). Images are
    float32 (or uint8) in [0, 255]; results are float32, clipped to [0, 255].
    """
    import keras  # pylint: disable=import-outside-toplevel

    policy = keras.layers.RandAugment(
        value_range=(0, 255), num_ops=num_ops, factor=factor, seed=seed
    )
    # Keras's own op list, each op configured by the RandAugment layer.
    names = policy._AUGMENT_LAYERS  # pylint: disable=protected-access
    ops = [getattr(policy, name) for name in names]

    def branch(op, image):
        return lambda: tf.cast(op(image, training=True), tf.float32)

    def apply(image, label, element_seed):
        choices = tf.random.stateless_uniform(
            [num_ops], element_seed, maxval=len(ops), dtype=tf.int32
        )
        image = tf.cast(image, tf.float32)
        for i in range(num_ops):
            image = tf.switch_case(choices[i], [branch(op, image) for op in ops])
        image.set_shape([None, None, 3])
        return tf.clip_by_value(image, 0.0, 255.0), label

    return apply


def mix(mixup_alpha, cutmix_alpha, seed):
    """`(images, one_hot_labels, batch_seed) -> (images, labels)` on a batch.

    Applies MixUp (Beta(alpha, alpha) blending) and/or CutMix (a box pasted
    from another image, Beta(alpha, alpha) area) to float32 images; with
    both, each batch uses one of them, CutMix with probability
    `MIX_SWITCH_PROBABILITY`, drawn from the stateless `batch_seed`.
    """
    import keras  # pylint: disable=import-outside-toplevel

    layers = []
    if mixup_alpha > 0:
        layers.append(keras.layers.MixUp(alpha=mixup_alpha, seed=seed))
    if cutmix_alpha > 0:
        layers.append(
            keras.layers.CutMix(factor=(cutmix_alpha, cutmix_alpha), seed=seed + 1)
        )
    if not layers:
        raise ValueError("mix() needs mixup_alpha > 0 or cutmix_alpha > 0.")

    def call(layer, images, labels):
        out = layer({"images": images, "labels": labels}, training=True)
        return (
            tf.cast(out["images"], tf.float32),
            tf.cast(out["labels"], tf.float32),
        )

    def apply(images, labels, batch_seed):
        if len(layers) == 1:
            return call(layers[0], images, labels)
        use_cutmix = tf.random.stateless_uniform([], batch_seed) < MIX_SWITCH_PROBABILITY
        return tf.cond(
            use_cutmix,
            lambda: call(layers[1], images, labels),
            lambda: call(layers[0], images, labels),
        )

    return apply
