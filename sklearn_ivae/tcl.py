"""TCLNonlinearICA: nonlinear ICA by time-contrastive / generalized contrastive learning."""

from numbers import Real

from sklearn.utils._param_validation import Interval, StrOptions

from ._base import BaseLatentVariableModel, store_init_params
from ._docstrings import fill_docstring
from .nn.tcl import FEATURE_NONLINEARITIES, ContrastiveModule

__all__ = ["TCLNonlinearICA"]

# Rows per block when scoring: GCL builds a block x block matrix of pair logits.
GCL_SCORING_BATCH_SIZE = 1024


@fill_docstring
class TCLNonlinearICA(BaseLatentVariableModel):
    """Nonlinear ICA by contrastive learning (TCL and GCL).

    A feature extractor h(x), an MLP, is trained on a classification task that
    only the sources' nonstationarity can solve:

    - **TCL** (time-contrastive learning, Hyvärinen & Morioka 2016), for
      categorical u (segment labels): a multinomial logistic regression on h(x)
      predicts the segment of each sample.
    - **GCL** (generalized contrastive learning, Hyvärinen, Sasaki & Turner
      2019), for any u, e.g. continuous time or covariates: a logistic
      regression tells true pairs (x, u) from pairs whose u was shuffled.

    When the sources are conditionally independent given u and their
    distributions change enough with u, the features h(x) converge to the
    sources' sufficient statistics (``|s_i|`` for Laplace sources, ``s_i^2`` for
    Gaussian ones) up to an invertible linear map, which a final
    :class:`~sklearn.decomposition.FastICA` in a pipeline resolves.

    For time series, segments of consecutive samples serve as u: see
    :func:`sklearn_ivae.datasets.make_segment_labels`.

    X is standardized inside the estimator.

    Parameters
    ----------
    n_components : int, default=None
        Number of features (sources), at most n_features. None means
        n_features.
    variant : {'auto', 'tcl', 'gcl'}, default='auto'
        Contrastive task. ``'auto'`` picks TCL for categorical u and GCL for
        continuous u. TCL needs categorical u; GCL accepts both.
    feature_nonlinearity : {'abs', 'square', 'identity'}, default='abs'
        Applied to the feature layer, as in the paper: ``'abs'`` suits sources
        whose scale changes with u (Laplace or Gaussian),
        ``'square'`` gives the Gaussian sufficient statistic exactly,
        ``'identity'`` leaves the features unconstrained (e.g. when the means
        change with u).
    hidden_layer_sizes : tuple of int, default=(32, 32)
        Hidden widths of the feature MLP (and of the decoder used by
        ``inverse_transform`` and, for GCL, of the network of u).
    activation : {'maxout', 'leaky_relu', 'relu', 'tanh', 'elu', 'gelu'}, \
            default='maxout'
        Hidden activation; maxout (pools of two) is the paper's.
    weight_decay : float, default=1e-4
        L2 penalty on all weights (not biases), as in the reference code.
    max_epochs : int or 'auto', default='auto'
        Number of passes over the data. ``'auto'``: 30 on up to 40,000
        training rows; on more, as many as visit 30 x 40,000 samples (at
        least 1), so that a default fit's cost stops growing with the data
        (e.g. 2 epochs on 1,000,000 rows).
    batch_size : int, default=128
        Mini-batch size.
    lr : float, default=1e-2
        Learning rate of Adam. Contrastive training tolerates, and on the
        papers' data needs, a larger rate than the VAE: a smaller one leaves
        the features far from the sources in the default number of epochs
        (see :ref:`tcl`).
    {training_parameters}

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is the torch module.
    variant_ : {'tcl', 'gcl'}
        The contrastive task used.
    n_components_ : int
        Number of features.
    {fitted_attributes}

    See Also
    --------
    IVAE : The identifiable VAE: a generative model of the same data.
    sklearn.decomposition.FastICA : Linear ICA, the final step after TCL.

    Notes
    -----
    TCL learns only the backward map x -> h(x). ``inverse_transform`` uses a
    decoder trained beside it (on detached features, so it never changes
    them) to predict x from h(x): an estimate of E[x | h(x)], not an exact
    inverse. With ``feature_nonlinearity='abs'`` or ``'square'`` the features
    do not keep the signs of the sources, so x is recovered only up to those
    signs, and the held-out R^2 of the reconstruction is low (see
    :ref:`tcl`). ``feature_nonlinearity='identity'`` barely helps: the
    features keep only what tells the segments apart. For a generative
    model with a faithful inverse, use :class:`IdentifiableFlow` or
    :class:`IVAE`.

    The learning signal is the nonstationarity: if one source makes the
    segments easy to classify (e.g. a strongly mean-modulated source), the
    classifier can rely on it alone and the other features stay poor, a
    failure the iVAE paper describes; :class:`IVAE` does not have it.

    References
    ----------
    A. Hyvärinen and H. Morioka. "Unsupervised feature extraction by
    time-contrastive learning and nonlinear ICA". NeurIPS 2016.

    A. Hyvärinen, H. Sasaki and R. E. Turner. "Nonlinear ICA using auxiliary
    variables and generalized contrastive learning". AISTATS 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import FastICA
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_ivae import TCLNonlinearICA
    >>> from sklearn_ivae.datasets import make_nonlinear_ica
    >>> from sklearn_ivae.metrics import mean_corr_coef
    >>> X, S, u = make_nonlinear_ica(n_sources=2, n_segments=20,
    ...                              n_samples_per_segment=200, n_layers=2,
    ...                              source_distribution='laplace', random_state=0)
    >>> model = make_pipeline(TCLNonlinearICA(max_epochs=20, random_state=0),
    ...                       FastICA(random_state=0))
    >>> features = model.fit_transform(X, u)
    >>> features.shape
    (4000, 2)
    >>> mean_corr_coef(np.abs(S), features) > 0.8
    True
    """

    # GCL compares each x with every u of its batch: bound that matrix.
    _scoring_batch_size = GCL_SCORING_BATCH_SIZE
    # The score is the log-probability of u itself, not a density of X: it needs u.
    _scores_density = False

    _auto_epochs = 30

    _parameter_constraints: dict = {
        **BaseLatentVariableModel._parameter_constraints,
        "variant": [StrOptions({"auto", "tcl", "gcl"})],
        "feature_nonlinearity": [StrOptions(set(FEATURE_NONLINEARITIES))],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        n_components=None,
        *,
        variant="auto",
        feature_nonlinearity="abs",
        hidden_layer_sizes=(32, 32),
        activation="maxout",
        weight_decay=1e-4,
        max_epochs="auto",
        batch_size=128,
        lr=1e-2,
        aux_type="auto",
        device="cpu",
        n_threads=1,
        random_state=None,
        n_init=1,
        warm_start=False,
        early_stopping=False,
        verbose=0,
        callbacks=None,
    ):
        store_init_params(self, locals())

    # ------------------------------------------------------------ base hooks
    def _resolve_variant(self):
        if self.variant == "auto":
            return "tcl" if self.aux_kind_ == "categorical" else "gcl"
        if self.variant == "tcl" and self.aux_kind_ != "categorical":
            raise ValueError(
                "variant='tcl' classifies segments and needs categorical u (1-D "
                "labels, e.g. from sklearn_ivae.datasets.make_segment_labels); got a "
                "continuous u. Use variant='gcl' (or 'auto') for continuous u."
            )
        return self.variant

    def _module_params(self, n_features, n_components):
        self.variant_ = self._resolve_variant()
        return ContrastiveModule, {
            "n_features": n_features,
            "n_components": n_components,
            "n_aux": self.aux_encoder_.n_aux_,
            "variant": self.variant_,
            "activation": self.activation,
            "feature_nonlinearity": self.feature_nonlinearity,
        }

    def _net_params(self):
        # Decay on weights only, as in the reference code; Adam's coupled decay
        # is the gradient of the L2 penalty (weight_decay / 2) * ||W||^2.
        return {
            "optimizer__weight_decay": self.weight_decay,
            "optimizer__param_groups": [
                ("*.bias", {"weight_decay": 0.0}),
                ("feature_linear", {"weight_decay": 0.0}),
                ("feature_quadratic", {"weight_decay": 0.0}),
            ],
        }

    def _transform_tensor(self, module, x):
        return module.features(x)

    def _inverse_transform_tensor(self, module, z):
        return module.decoder(z)

    # --------------------------------------------------------------- public

    def _scoring_function(self):
        return lambda module, x, u: module.log_likelihood(x, u)
