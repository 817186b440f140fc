"""Docstring blocks shared by the estimators, written once so that they cannot drift.

A class docstring names a block by a line holding only ``{block_name}``
(indented as a parameter entry); :func:`fill_docstring` puts the block there.
"""

import textwrap

_BLOCKS = {
    "sources_parameters": """
S_true : array-like of shape (n_samples, n_true)
    True sources.
S_est : array-like of shape (n_samples, n_est)
    Estimated sources.
""",
    "training_parameters": """
aux_type : {'auto', 'categorical', 'continuous'}, default='auto'
    How ``y`` (the auxiliary variable u) is read. ``'auto'``: 1-D labels
    (ints, strings, integer-valued floats) are categorical, one prior per
    label (segments, classes); anything else (non-integer floats, 2-D
    arrays) is continuous. Set ``'continuous'`` for a time index or a count
    given as integers (``'auto'`` warns when the labels are nearly as many
    as the rows), ``'categorical'`` to read any 1-D u as labels. Ignored by
    models that do not use u.
device : str or torch.device, default='cpu'
    Where to train: ``'cpu'``, ``'cuda'``, ``'cuda:N'`` or ``'mps'``,
    checked against what this machine has when ``fit`` starts. A fitted
    model pickles and loads on a machine without CUDA. The default networks
    are small: on data of the papers' size (tens of thousands of rows, a few
    features) a GPU fit is slower than one CPU core, so keep ``'cpu'`` there.
n_threads : int or None, default=1
    Torch intra-op threads used by ``fit`` and inference, restored after
    each call; None leaves torch's setting. One thread is fastest for
    networks of this size, and torch's default (one per core)
    oversubscribes a machine that is busy with other work. With
    ``GridSearchCV(n_jobs=k)``, each of the k processes uses ``n_threads``.
random_state : int, RandomState instance or None, default=None
    Seeds initialization, shuffling and sampling: two fits with the same
    integer give the same numbers on CPU.
n_init : int, default=1
    Number of trainings from different random initializations; the one
    whose final training objective, evaluated once on all rows after
    training, is best is kept, as in
    :class:`~sklearn.mixture.GaussianMixture`. Restarts escape local optima
    that the objective tells apart, at ``n_init`` times the cost.
warm_start : bool, default=False
    When True and the estimator is already fitted, ``fit`` continues
    training the fitted network for ``max_epochs`` more epochs (a new
    learning-rate cycle, no warm-up: the decoder variance stays at its
    target, a mixture prior where it is), on the first fit's
    standardization of X and encoding of u; ``n_iter_`` and
    ``loss_curve_`` accumulate, ``n_init`` applies to the first fit only.
    The new data must have the same features and no new labels of u, and
    neither the arguments the network was built with (sizes, prior,
    posterior, decoder variance, number of importance samples, ...) nor
    ``early_stopping`` may change (a ``ValueError`` names them); with early
    stopping, an int ``random_state`` keeps the same rows held out.
    ``clone`` (e.g. in a search) starts over.
early_stopping : bool or float, default=False
    Hold out a fraction of the rows (0.1 for True, or the float given;
    stratified by segment when u is categorical) and stop when the mean
    objective on them has not improved by 1e-4 for 10 epochs; the
    parameters of the best epoch are kept (see ``validation_scores_``).
    Epochs of a warm-up that changes the objective itself (the VAEs'
    decoder-variance annealing) are not watched. For another patience,
    pass skorch's ``EarlyStopping`` in ``callbacks`` as well.
verbose : int, default=0
    0: silent; 1 (or more): a progress bar over each epoch's batches and
    one line per epoch (training and validation loss, seconds).
callbacks : list of skorch callbacks, default=None
    Extra skorch callbacks (early stopping, LR schedules, checkpoints), as
    ``(name, callback)`` pairs or callback instances.
""",
    "resolved_attributes": """
init_ : {'random', 'flow', 'flow_encoder'}
    The start that training took (``init`` resolved).
init_flow_ : IdentifiableFlow
    The flow that training started from (only when ``init_`` is
    ``'flow'`` or ``'flow_encoder'``).
decoder_var_ : float or 'learn'
    ``decoder_var`` resolved: the fixed variance of the observation noise
    on standardized data, or ``'learn'``.
n_importance_samples_ : int
    ``n_importance_samples`` resolved: the posterior draws of the bound
    trained and scored.
""",
    "fitted_attributes": """
n_iter_ : int
    Number of epochs run.
lr_ : float
    The (peak) learning rate of the fit: ``lr``, or what ``'auto'``
    resolved to.
max_epochs_ : int
    The number of epochs the fit was given: ``max_epochs``, or what
    ``'auto'`` resolved to for the number of training rows.
loss_curve_ : list of float
    The training loss (the negative mean objective, on the standardized
    data) of each epoch.
validation_scores_ : list of float
    The mean objective on the held-out rows after each epoch (only with
    ``early_stopping``; higher is better).
classes_ : ndarray of shape (n_classes,)
    Labels of a categorical u (only when u is categorical).
aux_kind_ : {'categorical', 'continuous'}
    How u was read (only for a model that uses u).
aux_encoder_ : object
    How u is encoded for the model (only for a model that uses u).
x_mean_, x_scale_ : ndarray of shape (n_features,)
    Standardization of X (only where the model standardizes X).
n_features_in_ : int
    Number of features seen during fit.
feature_names_in_ : ndarray of shape (`n_features_in_`,)
    Names of features seen during fit, when X has string column names.
""",
}


def fill_docstring(obj):
    """Put the shared blocks into ``obj.__doc__`` where it names them."""
    lines = []
    for line in obj.__doc__.splitlines():
        name = line.strip()[1:-1] if line.strip().startswith("{") else None
        if name in _BLOCKS:
            indent = line[: len(line) - len(line.lstrip())]
            lines.extend(textwrap.indent(_BLOCKS[name].strip("\n"), indent).splitlines())
        else:
            lines.append(line)
    obj.__doc__ = "\n".join(lines)
    return obj
