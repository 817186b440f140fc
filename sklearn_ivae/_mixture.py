"""What every model with a Gaussian-mixture prior shares: clustering and the fitted mixture."""

import numpy as np
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ._training import MixturePriorInit

__all__ = ["MixturePriorMixin"]


def _has_mixture_prior(estimator):
    return estimator.prior == "mixture"


class MixturePriorMixin:
    """``predict`` / ``predict_proba`` and ``mixture_*_`` for ``prior='mixture'``.

    For estimators with a ``prior`` parameter and ``n_mixture_components``,
    whose module's ``prior`` is a :class:`~sklearn_ivae.nn.priors.MixturePrior`
    when ``prior='mixture'``.
    """

    def _mixture_callbacks(self, start_epoch, covariance):
        """The callback that starts the mixture, of ``covariance`` 'diag' or
        'full', from the latents (VaDE)."""
        if self.prior != "mixture":
            return []
        return [("mixture_init", MixturePriorInit(start_epoch, covariance))]

    def _set_fitted_attributes(self):
        if self.prior == "mixture":
            weights, means, covariances = self.net_.module_.prior.export()
            self.mixture_weights_ = weights.cpu().numpy()
            self.mixture_means_ = means.cpu().numpy()
            self.mixture_covariances_ = covariances.cpu().numpy()

    @available_if(_has_mixture_prior)
    def predict_proba(self, X):
        """Posterior probabilities of the mixture prior's components.

        The responsibilities p(k|z) = pi_k N(z; mu_k, Sigma_k) / p(z) at the
        latents z of each sample (what ``transform`` returns). Only with
        ``prior='mixture'``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Observations.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_mixture_components)
            Probability of each component; rows sum to 1.

        Examples
        --------
        >>> from sklearn_ivae import IVAE
        >>> from sklearn_ivae.datasets import make_mixture_latents
        >>> X, Z, labels = make_mixture_latents(n_samples=300, random_state=0)
        >>> model = IVAE(prior="mixture", n_mixture_components=3, max_epochs=2,
        ...              random_state=0).fit(X)
        >>> model.predict_proba(X[:4]).shape
        (4, 3)
        >>> bool(abs(model.predict_proba(X).sum(axis=1) - 1).max() < 1e-12)
        True
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)

        def responsibilities(module, x):
            return module.prior.responsibilities(module.latents(x))

        return self._run_batched(responsibilities, self._scale(X), out_dtype=np.float64)

    @available_if(_has_mixture_prior)
    def predict(self, X):
        """Most probable mixture component of each sample (a clustering).

        Only with ``prior='mixture'``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Observations.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Index of the component with the largest posterior probability,
            in ``range(n_mixture_components)``.

        Examples
        --------
        A clustering without u, by the exact-likelihood flow:

        >>> from sklearn.metrics import adjusted_rand_score
        >>> from sklearn_ivae import IdentifiableFlow
        >>> from sklearn_ivae.datasets import make_mixture_latents
        >>> X, _, clusters = make_mixture_latents(n_samples=300, random_state=0)
        >>> flow = IdentifiableFlow(prior="mixture", n_mixture_components=3,
        ...                         max_epochs=5, random_state=0).fit(X)
        >>> labels = flow.predict(X)
        >>> bool(0 <= adjusted_rand_score(clusters, labels) <= 1)
        True
        """
        return np.argmax(self.predict_proba(X), axis=1)
