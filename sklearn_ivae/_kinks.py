"""A search for the kinks of a piecewise-affine mixing, and the flow that undoes them.

A leaky-ReLU mixing compresses the data on one side of each of its last
hidden layer's kinks: the density of X jumps across a hyperplane there.
Gradient training of a piecewise-affine flow does not find these kinks (at a
slope of 1 a kink's position has no gradient, and a kink placed at random
gains too little to grow), so the search places them directly: one kink at a
time, the candidate (direction, offset, slope) that most raises the
likelihood of the data, a Gaussian mixture's fitted to the kinked rows plus
the kink's log-determinant, is applied, and the next kink is looked for in
the data it leaves. :func:`piecewise_affine_parameters` then writes the chain
of kinks as the layers of ``make_piecewise_affine_flow``.
"""

import warnings
from typing import NamedTuple

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from sklearn.utils import check_random_state

from .nn.flow import pivoted_lu

__all__ = ["Kink", "piecewise_affine_parameters", "search_kinks"]

# Expansions of a kink's compressed side: with directions over the whole
# sphere they cover contractions too (a kink of slope a on one side is one of
# slope 1 / a on the other, up to an affine map). 10 and 20 undo a mixing's
# leaky ReLU of slope 0.1 or 0.05.
SLOPES = (2.0, 4.0, 10.0, 20.0)
# Offsets at these quantiles of the rows' projection on a direction.
OFFSET_QUANTILES = np.linspace(0.05, 0.95, 19)
# Rows each candidate is scored on: the mixture is fitted afresh per candidate.
SEARCH_ROWS = 2000
# A kink is kept only if it raises the log-likelihood by this many nats per row:
# the mixture's fit on SEARCH_ROWS rows varies by about 0.01 between candidates
# that change nothing.
MIN_GAIN = 0.02


class Kink(NamedTuple):
    """x -> (x + (a - 1) min(w.x - c, 0) w - mean) / scale, with |w| = 1."""

    w: np.ndarray
    c: float
    a: float
    mean: np.ndarray
    scale: np.ndarray


def apply_kink(x, kink):
    """The kinked, standardized rows and each row's log |det| of the map."""
    t = x @ kink.w - kink.c
    y = x + (kink.a - 1) * np.minimum(t, 0)[:, None] * kink.w
    log_det = np.where(t < 0, np.log(kink.a), 0.0) - np.log(kink.scale).sum()
    return (y - kink.mean) / kink.scale, log_det


def _directions(n_features, n_directions, rng):
    if n_features == 2:
        angles = np.linspace(0, 2 * np.pi, n_directions, endpoint=False)
        return np.column_stack([np.cos(angles), np.sin(angles)])
    directions = rng.standard_normal((n_directions, n_features))
    return directions / np.linalg.norm(directions, axis=1, keepdims=True)


def _loglik(x, log_det, n_mixture_components, covariance):
    """The log-likelihood of x: a Gaussian mixture's, fitted to x, plus the log-determinant."""
    mixture = GaussianMixture(
        n_mixture_components, covariance_type=covariance, tol=1e-3, random_state=0
    )
    # A candidate's mixture that stops short of convergence still scores it;
    # thousands of warnings would say nothing more.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mixture.fit(x)
    return mixture.score(x) + log_det.mean()


def search_kinks(
    x,
    max_kinks,
    n_mixture_components,
    covariance="full",
    n_directions=36,
    random_state=None,
    verbose=0,
):
    """Kinks that undo a piecewise-affine mixing of ``x``, found one at a time.

    Parameters
    ----------
    x : ndarray of shape (n_samples, n_features)
        Standardized data.
    max_kinks : int
        At most this many kinks.
    n_mixture_components : int
        Components of the Gaussian mixture that scores each candidate.
    covariance : {'full', 'diag'}
        Its covariance type.
    n_directions : int
        Directions tried per kink: evenly spaced over the circle for 2
        features, random over the sphere otherwise.
    random_state : int, RandomState instance or None
        Draws the scored rows and the directions.
    verbose : int
        Print a line per kink found.

    Returns
    -------
    kinks : list of Kink
        In the order they apply to x; empty if no kink gains ``MIN_GAIN``.
    """
    rng = check_random_state(random_state)
    rows = rng.choice(len(x), min(SEARCH_ROWS, len(x)), replace=False)
    x = x[rows]
    log_det = np.zeros(len(x))
    best = _loglik(x, log_det, n_mixture_components, covariance)
    unit = (np.zeros(x.shape[1]), np.ones(x.shape[1]))
    kinks = []
    while len(kinks) < max_kinks:
        scored = []
        for w in _directions(x.shape[1], n_directions, rng):
            for c in np.quantile(x @ w, OFFSET_QUANTILES):
                for a in SLOPES:
                    y, det = apply_kink(x, Kink(w, c, a, *unit))
                    scored.append(
                        (_loglik(y, log_det + det, n_mixture_components, covariance), w, c, a)
                    )
        score, w, c, a = max(scored, key=lambda candidate: candidate[0])
        if score - best < MIN_GAIN:
            break
        best = score
        # Standardized after each kink, so that the next one's offsets and
        # the mixture see data of unit scale.
        y, _ = apply_kink(x, Kink(w, c, a, *unit))
        kink = Kink(w, float(c), float(a), y.mean(axis=0), y.std(axis=0))
        x, det = apply_kink(x, kink)
        log_det = log_det + det
        kinks.append(kink)
        if verbose:
            print(f"kink {len(kinks)}: slope {a:g}, log-likelihood {score:.3f}", flush=True)
    return kinks


def _basis_with_row(w):
    """An orthogonal matrix whose first row is w (|w| = 1)."""
    q, _ = np.linalg.qr(np.column_stack([w, np.eye(len(w))]))
    q = q[:, : len(w)]
    return (q * np.sign(q[:, 0] @ w)).T


def _pivoted_lu(A):
    """(P, LU): P @ A = L U, LU packed for zuko (see ``nn.flow.pivoted_lu``)."""
    P, packed = pivoted_lu(torch.as_tensor(A, dtype=torch.float64))
    return P.T.numpy(), packed.numpy()


def piecewise_affine_parameters(kinks, n_features, n_transforms):
    """The layers of ``make_piecewise_affine_flow`` that compute a chain of kinks.

    Each kink takes one layer: its linear map turns the kink's direction into
    one unit (an orthogonal basis with w as that unit's row), the shift puts
    the kink at zero, the unit's leaky ReLU has slope a (the others 1), and
    the next linear map undoes the basis and the standardization. The flow's
    LU factors have no pivoting, so the units of each layer are permuted
    instead (partial pivoting of the matrix that feeds them); layers beyond
    the kinks are the identity.

    Returns
    -------
    params : dict
        ``first``: the first packed LU matrix; ``layers``: per layer a dict of
        ``shift``, ``log_slope`` and ``linear`` (packed LU); ``last_shift``:
        the final elementwise shift. Every array is float64.
    """
    if len(kinks) > n_transforms:
        raise ValueError(f"{len(kinks)} kinks need at least as many layers, not {n_transforms}")
    identity = np.eye(n_features)
    bases = [_basis_with_row(k.w) for k in kinks]
    layers = []
    first, shift = identity, np.zeros(n_features)
    if kinks:
        permutation, first = _pivoted_lu(bases[0])
        bases[0] = permutation @ bases[0]
    for i, kink in enumerate(kinks):
        basis = bases[i]
        unit = int(np.argmax(np.abs(basis @ kink.w)))
        e = identity[unit]
        undo = np.diag(1 / kink.scale)
        # Back from the layer's basis to the standardized data after the kink.
        back, back_shift = undo @ basis.T, undo @ (basis.T @ (kink.c * e) - kink.mean)
        if i + 1 < len(kinks):
            back, back_shift = bases[i + 1] @ back, bases[i + 1] @ back_shift
        permutation, linear = _pivoted_lu(back)
        if i + 1 < len(kinks):
            bases[i + 1] = permutation @ bases[i + 1]
        next_shift = permutation @ back_shift
        layers.append(
            {"shift": shift - kink.c * e, "log_slope": np.log(kink.a) * e, "linear": linear}
        )
        shift = next_shift
    zero = np.zeros(n_features)
    for _ in range(len(kinks), n_transforms):
        layers.append({"shift": zero, "log_slope": zero, "linear": identity})
    return {"first": first, "layers": layers, "last_shift": shift}
