"""scikit-learn's estimator checks over every estimator and its main options."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_ivae import TCLNonlinearICA

from .conftest import ALL_ESTIMATORS

# TCL's score is the log-probability of the right u given x (its contrastive
# task): with no u there is nothing to score, and these two checks call
# score_samples(X) without y. The density models score the marginal over the
# u seen in fit instead, and pass them.
_SCORE_NEEDS_U = "score_samples is the log-probability of u given x: it needs u (y)"


def expected_failed_checks(estimator):
    if isinstance(estimator, TCLNonlinearICA):
        return {
            "check_methods_sample_order_invariance": _SCORE_NEEDS_U,
            "check_methods_subset_invariance": _SCORE_NEEDS_U,
        }
    return {}


@parametrize_with_checks(ALL_ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
