"""scikit-learn's estimator checks over every estimator and its main options."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_ivae import IVAE, IVAEGAN, IdentifiableFlow, TCLNonlinearICA

# Small networks and few epochs: these checks test the sklearn contract, not
# the quality of the fit (tests/test_ivae.py does that).
FAST = {"hidden_layer_sizes": (16,), "max_epochs": 3}

ESTIMATORS = [
    IVAE(**FAST),
    IVAE(prior="isotropic", **FAST),
    IVAE(source_distribution="laplace", prior_mean=False, **FAST),
    IVAE(decoder_var="learn", n_components=2, **FAST),
    IVAE(early_stopping=True, n_iter_no_change=1, **FAST),
    IVAEGAN(**FAST),
    IVAE(prior="mixture", n_mixture_components=3, **FAST),
    IVAE(prior="mixture", n_mixture_components=2, mixture_covariance="full", **FAST),
    IVAE(prior="isotropic", source_distribution="uniform", **FAST),
    TCLNonlinearICA(**FAST),
    TCLNonlinearICA(variant="gcl", **FAST),
    TCLNonlinearICA(early_stopping=True, validation_fraction=0.2, **FAST),
    TCLNonlinearICA(feature_nonlinearity="identity", activation="leaky_relu", **FAST),
    IdentifiableFlow(n_transforms=1, batch_size=64, **FAST),
    IdentifiableFlow(n_transforms=2, prior_mean=False, linear=False, **FAST),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
