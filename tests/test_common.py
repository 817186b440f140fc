"""scikit-learn's estimator checks over every estimator and its main options."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from .conftest import ALL_ESTIMATORS


# Every check passes on every configuration: no expected failure.
@parametrize_with_checks(ALL_ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
