"""The estimator configurations every sklearn-contract test runs over.

One list: ``test_common.py`` runs scikit-learn's checks on all of them, and
``test_contract.py`` runs the package's contract on those marked ``contract``
(one per estimator and prior, the main option sets).
"""

import pytest

from sklearn_ivae import IVAE, IVAEGAN, IdentifiableFlow, TCLNonlinearICA
from sklearn_ivae.datasets import make_nonlinear_ica

# Small networks and few epochs: these tests check the sklearn contract, not
# the quality of the fit (the per-estimator test modules do that).
FAST = {"hidden_layer_sizes": (16,), "max_epochs": 2}

# (id, estimator, in the contract tests)
CONFIGURATIONS = [
    ("IVAE", IVAE(**FAST), True),
    ("IVAE-isotropic", IVAE(prior="isotropic", **FAST), False),
    ("IVAE-laplace", IVAE(source_distribution="laplace", prior_mean=False, **FAST), False),
    ("IVAE-learned-var", IVAE(decoder_var="learn", n_components=2, **FAST), False),
    ("IVAE-early-stopping", IVAE(early_stopping=True, **FAST), False),
    ("IVAE-elbo", IVAE(n_importance_samples=1, **FAST), True),
    ("IVAE-flow-posterior", IVAE(posterior="flow", **FAST), False),
    ("IVAE-flow-init", IVAE(init="flow", **FAST), False),
    ("IVAE-flow-encoder", IVAE(init="flow_encoder", **FAST), False),
    ("IVAEGAN", IVAEGAN(**FAST), True),
    ("IVAE-mixture", IVAE(prior="mixture", n_mixture_components=3, **FAST), True),
    ("IVAE-uniform", IVAE(prior="isotropic", source_distribution="uniform", **FAST), False),
    ("TCL", TCLNonlinearICA(**FAST), True),
    ("GCL", TCLNonlinearICA(variant="gcl", **FAST), True),
    (
        "TCL-early-stopping",
        TCLNonlinearICA(early_stopping=0.2, **FAST),
        False,
    ),
    (
        "TCL-identity",
        TCLNonlinearICA(feature_nonlinearity="identity", activation="leaky_relu", **FAST),
        False,
    ),
    ("Flow", IdentifiableFlow(n_transforms=2, batch_size=64, **FAST), True),
    ("Flow-plain", IdentifiableFlow(n_transforms=1, prior_mean=False, linear=False, **FAST), False),
    (
        "Flow-mixture",
        IdentifiableFlow(
            prior="mixture", n_mixture_components=2, flow="piecewise_affine", n_transforms=2, **FAST
        ),
        True,
    ),
]

ALL_ESTIMATORS = [estimator for _, estimator, _ in CONFIGURATIONS]
CONTRACT_ESTIMATORS = [
    pytest.param(estimator, id=name) for name, estimator, contract in CONFIGURATIONS if contract
]


@pytest.fixture(scope="session")
def tiny_problem():
    """Two sources, four segments of 50 points, a 2-layer mixing."""
    return make_nonlinear_ica(
        n_sources=2, n_segments=4, n_samples_per_segment=50, n_layers=2, random_state=0
    )
