"""deploy: the compiled Keras baseline and the two extra integer modes (int8 with float fallback,
16x8), on a tiny network, and compare.spearman."""

import numpy as np
import pytest

from mobilecnn import compare, deploy

SEED = 0


@pytest.fixture(scope="module")
def tiny():
    import keras

    keras.utils.set_random_seed(SEED)
    x = keras.Input((8, 8, 3))
    y = keras.layers.Conv2D(4, 3, activation="relu")(x)
    y = keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(y))
    images = np.random.default_rng(SEED).uniform(size=(16, 8, 8, 3)).astype("float32")
    return keras.Model(x, y), images


def test_compiled_and_eager_keras_give_the_same_answers(tiny):
    model, images = tiny
    labels = np.zeros(len(images), dtype=np.int64)
    compiled = deploy.evaluate(model, images, labels, runs=3, warmup=1, batch_size=5)
    eager = deploy.evaluate(model, images, labels, runs=3, warmup=1, batch_size=5,
                            keras_call="eager")
    assert (compiled.label, eager.label) == ("Keras", "Keras (eager)")
    # the same float32 graph: differences only from operation order, a few float32 ulps
    np.testing.assert_allclose(compiled.probabilities, eager.probabilities, atol=1e-6)
    with pytest.raises(ValueError, match="keras_call must be one of"):
        deploy.evaluate(model, images, labels, runs=1, keras_call="jit")


def test_more_modes_convert_and_keep_float_edges(tiny):
    model, images = tiny
    for mode in deploy.MORE_MODES:
        flatbuffer = deploy.convert(model, mode, images, cache=False)
        classifier = deploy.TFLiteClassifier(flatbuffer)
        assert classifier.input_dtype == "float32"
        probabilities = classifier.predict(images)
        reference = np.asarray(model(images, training=False))
        # int8 softmax output steps are 1/256; int16 ones finer: within two int8 steps of float
        np.testing.assert_allclose(probabilities, reference, atol=2 / 256)
    dtypes = {t.dtype for t in deploy.TFLiteClassifier(
        deploy.convert(model, "int16x8", images, cache=False)).tensors() if not t.constant}
    assert "int16" in dtypes
    with pytest.raises(ValueError, match="representative_data"):
        deploy.convert(model, "int16x8", None, cache=False)
    with pytest.raises(ValueError, match="unknown mode"):
        deploy.convert(model, "int4", images, cache=False)


def test_spearman_ranks():
    assert compare.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert compare.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # ties take their mean rank: x ranks 1, 2.5, 2.5, 4 against 1, 2, 3, 4
    assert compare.spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(0.9486832980505138)
    with pytest.raises(ValueError, match="at least 3"):
        compare.spearman([1, 2], [1, 2])
