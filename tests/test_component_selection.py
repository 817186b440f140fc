"""select_n_components: the elbow of the held-out score, on data of known dimension."""

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.model_selection import GroupKFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_ivae import IVAE
from sklearn_ivae.datasets import make_nonlinear_ica
from sklearn_ivae.model_selection import ComponentSelectionResult, select_n_components


@pytest.fixture
def low_rank_linear():
    """3 Gaussian sources in 6 noisy features: probabilistic PCA's own model."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(600, 3)) @ rng.normal(size=(3, 6)) * 3
    return X + 0.1 * rng.normal(size=X.shape)


def test_pca_finds_the_rank_of_low_rank_data(low_rank_linear):
    result = select_n_components(PCA(), low_rank_linear, candidates=[1, 2, 3, 4, 5], cv=3)
    assert isinstance(result, ComponentSelectionResult)
    assert result.n_components == 3
    assert result.scores.shape == (5, 3)
    # Missing a component costs far more than an extra one gains.
    assert result.mean_scores[2] - result.mean_scores[1] > 10 * abs(
        result.mean_scores[4] - result.mean_scores[2]
    )
    assert "n_components=3" in repr(result)


def test_tolerance_zero_is_the_one_standard_error_rule(low_rank_linear):
    result = select_n_components(
        PCA(), low_rank_linear, candidates=[2, 3, 4, 5], cv=3, tolerance=0.0
    )
    best = np.argmax(result.mean_scores)
    within = result.mean_scores >= result.mean_scores[best] - result.sem_scores[best]
    assert result.n_components == result.candidates[np.flatnonzero(within)[0]]


def test_ivae_chooses_the_number_of_sources():
    # 2 sources in 5 features: one latent cannot explain the data, more than
    # two add little. The criterion is tested from a random start, with its
    # fixed near-deterministic decoder; after a flow start the learned noise
    # variance lets a third latent also lower the noise the model assigns,
    # and with 20 epochs on 1,000 rows the flow itself is undertrained.
    X, _, u = make_nonlinear_ica(
        n_sources=2,
        n_features=5,
        n_segments=10,
        n_samples_per_segment=100,
        n_layers=2,
        random_state=0,
    )
    result = select_n_components(
        IVAE(init="random", hidden_layer_sizes=(32, 32), max_epochs=20),
        X,
        u,
        candidates=[1, 2, 3],
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
        random_state=0,
    )
    assert result.n_components == 2
    assert result.mean_scores[1] - result.mean_scores[0] > 100  # nats per sample


def test_pipeline_parameter_and_consistency():
    X, _, u = make_nonlinear_ica(
        n_sources=2, n_segments=5, n_samples_per_segment=60, n_layers=1, random_state=0
    )
    model = make_pipeline(StandardScaler(), IVAE(hidden_layer_sizes=(16,), max_epochs=3))
    options = {
        "candidates": [2, 1],
        "param_name": "ivae__n_components",
        "cv": 2,
        "consistency_fits": 2,
        "indeterminacy": "affine",
        "random_state": 0,
    }
    result = select_n_components(model, X, u, **options)
    assert result.candidates.tolist() == [1, 2]
    assert result.consistency.shape == (2,)
    assert np.all((0 <= result.consistency) & (result.consistency <= 1))
    # Reproducible with an int random_state.
    again = select_n_components(model, X, u, **options)
    np.testing.assert_array_equal(result.scores, again.scores)


def test_folds_stratify_float_labels_and_take_groups(low_rank_linear):
    X = low_rank_linear
    labels = np.repeat([0.0, 1.0, 2.0], len(X) // 3)  # sorted segments, float labels
    held_out = []

    class Recorder(PCA):
        def score(self, X, y=None):
            held_out.append(np.unique(y))
            return super().score(X)

    select_n_components(Recorder(), X, labels, candidates=[3], cv=3)
    # Stratified: every held-out part has every segment.
    assert all(len(segments) == 3 for segments in held_out)
    held_out.clear()
    select_n_components(Recorder(), X, labels, candidates=[3], cv=GroupKFold(3), groups=labels)
    assert sorted(len(segments) for segments in held_out) == [1, 1, 1]


def test_errors(low_rank_linear):
    with pytest.raises(ValueError, match="positive integers"):
        select_n_components(PCA(), low_rank_linear, candidates=[0, 2])
    with pytest.raises(ValueError, match="no parameter 'ivae__n_components'"):
        select_n_components(PCA(), low_rank_linear, candidates=[2], param_name="ivae__n_components")
    with pytest.raises(ValueError, match="tolerance"):
        select_n_components(PCA(), low_rank_linear, candidates=[2], tolerance=2.0)
