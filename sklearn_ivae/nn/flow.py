"""The identifiable normalizing flow (iFlow) as a torch module.

The invertible layers come from zuko (masked autoregressive rational-quadratic
spline transforms); they are composed by hand so that the flow itself is
unconditional and only the prior p(z|u) depends on the auxiliary variable.
"""

from functools import partial

import torch
from torch import nn
from torch.distributions import constraints
from zuko.flows.autoregressive import MaskedAutoregressiveTransform
from zuko.lazy import LazyComposedTransform, UnconditionalTransform
from zuko.transforms import (
    LULinearTransform,
    MonotonicAffineTransform,
    MonotonicRQSTransform,
    Transform,
)

from .mlp import ACTIVATIONS
from .priors import ConditionalPrior, MixturePrior

__all__ = [
    "FlowLatents",
    "IdentifiableFlowModule",
    "LeakyReLUTransform",
    "load_piecewise_affine_flow",
    "make_piecewise_affine_flow",
    "make_spline_flow",
    "pivoted_lu",
    "random_rotation_lu",
]


def make_spline_flow(
    n_features,
    n_transforms=4,
    n_bins=8,
    bound=5.0,
    hidden_layer_sizes=(64, 64),
    activation="leaky_relu",
    linear=True,
):
    """An unconditional lazy transform from data to latents.

    Each step is an elementwise affine map (a learned ActNorm that brings the
    values into the spline's interval), a masked autoregressive monotonic
    rational-quadratic spline on ``[-bound, bound]`` (identity outside, so the
    map stays a bijection of the whole real space) and, with ``linear``, an
    invertible LU-parametrized linear map. A final elementwise affine map frees
    the scale of the latents. Autoregressive orders alternate between steps.

    With ``linear``, a first LU-parametrized linear map starts at a random
    rotation drawn from torch's random generator, so the seed moves the
    start: where nothing identifies the latents (e.g. Gaussian data) the
    likelihood cannot tell their rotations apart, and a flow that starts
    near the identity for every seed would make restarts agree there by
    construction. It comes before the first spline so that no step is tied
    to the axes of the data; the later linear maps start at the identity.
    """
    steps = []
    if linear and n_features > 1:
        steps.append(UnconditionalTransform(LULinearTransform, random_rotation_lu(n_features)))
    orders = [torch.arange(n_features), torch.arange(n_features).flip(0)]
    for i in range(n_transforms):
        steps.append(_elementwise_affine(n_features))
        steps.append(
            MaskedAutoregressiveTransform(
                features=n_features,
                order=orders[i % 2],
                univariate=partial(MonotonicRQSTransform, bound=bound),
                shapes=[(n_bins,), (n_bins,), (n_bins - 1,)],
                hidden_features=tuple(hidden_layer_sizes),
                activation=ACTIVATIONS[activation],
            )
        )
        if linear and n_features > 1:
            steps.append(UnconditionalTransform(LULinearTransform, torch.eye(n_features)))
    steps.append(_elementwise_affine(n_features))
    return LazyComposedTransform(*steps)


def random_rotation_lu(n_features):
    """A random rotation in the packed form of zuko's ``LULinearTransform``.

    A Haar-distributed orthogonal matrix Q (QR of a Gaussian matrix, with
    the signs of R's diagonal moved into Q), its rows reordered as partial
    pivoting orders them: P^T Q = L U is still orthogonal and its LU factors
    exist and are well conditioned (no pivot near zero), which zuko's
    unpivoted factorization needs. Packed as zuko reads it: the lower
    triangle with the diagonal is L diag(U), the strict upper triangle is
    diag(U)^-1 U.
    """
    gaussian = torch.randn(n_features, n_features, dtype=torch.float64)
    Q, R = torch.linalg.qr(gaussian)
    Q = Q * torch.sign(torch.diagonal(R))
    _, packed = pivoted_lu(Q)
    return packed.to(torch.get_default_dtype())


def pivoted_lu(A):
    """(P, LU) with P^T A = L U by partial pivoting, LU packed as zuko's
    ``LULinearTransform`` reads it: the lower triangle with the diagonal is
    L diag(U), the strict upper triangle is diag(U)^-1 U."""
    P, L, U = torch.linalg.lu(A)
    pivots = torch.diagonal(U)
    return P, torch.tril(L * pivots) + torch.triu(U / pivots[:, None], diagonal=1)


# Kernel width of the leaky ReLU's boundary term, as a fraction of the batch's
# standard deviation at the kink. Trained from the true map of leaky-ReLU
# mixtures of slope 0.1, the flow lost the true latents with 0.1 and kept them
# with 0.03 and 0.01 (benchmarks/diagnostics/diagnose_mixture_deep.py).
BOUNDARY_BANDWIDTH = 0.03


class LeakyReLUTransform(Transform):
    """The invertible leaky ReLU y = x (x >= 0), y = a x (x < 0), a > 0 per feature.

    Parameters
    ----------
    log_slope : torch.Tensor of shape (n_features,)
        log a: any real value keeps the map invertible.
    """

    domain = constraints.real_vector
    codomain = constraints.real_vector
    bijective = True

    def __init__(self, log_slope, **kwargs):
        super().__init__(**kwargs)
        self.log_slope = log_slope

    def _call(self, x):
        return torch.where(x >= 0, x, x * torch.exp(self.log_slope))

    def _inverse(self, y):
        return torch.where(y >= 0, y, y * torch.exp(-self.log_slope))

    def log_abs_det_jacobian(self, x, y):
        hard = torch.where(x >= 0, 0.0, self.log_slope)
        if not (torch.is_grad_enabled() and x.requires_grad and x.dim() == 2 and len(x) > 1):
            return hard.sum(-1)
        # A row that crosses the kink changes the log-determinant by log a, a
        # jump autograd does not see, so the gradient misses the likelihood's
        # boundary term (the density of the rows at the kink times log a) and
        # training drifts away even from the true map. The sigmoid of the
        # distance to the kink, in units of a small fraction of the batch's
        # spread, puts a kernel estimate of that term into the gradient; it
        # adds exactly zero to the value, which stays the hard one.
        width = (BOUNDARY_BANDWIDTH * x.detach().std(0)).clamp_min(torch.finfo(x.dtype).eps)
        soft = torch.sigmoid(-x / width)
        return (hard + self.log_slope.detach() * (soft - soft.detach())).sum(-1)


def make_piecewise_affine_flow(n_features, n_transforms=4):
    """An invertible piecewise-affine map from data to latents.

    LU-parametrized linear maps with, between them, an elementwise affine map
    (which places each unit's kink) and an invertible leaky ReLU of learned
    slope: the inverses of the leaky-ReLU MLP mixings of Kivva et al. (2022),
    whose identifiability theorem is about exactly this class of maps.
    """

    def random_linear():
        # Near the identity, but random: restarts and seeds start apart.
        lu = torch.eye(n_features) + 0.1 * torch.randn(n_features, n_features)
        return UnconditionalTransform(LULinearTransform, lu)

    def random_kinks():
        # Random shifts put the kinks inside the (standardized) data.
        shift = 0.5 * torch.randn(n_features)
        return UnconditionalTransform(MonotonicAffineTransform, shift, torch.zeros(n_features))

    steps = [random_linear()]
    for _ in range(n_transforms):
        steps.append(random_kinks())
        steps.append(UnconditionalTransform(LeakyReLUTransform, torch.zeros(n_features)))
        steps.append(random_linear())
    steps.append(_elementwise_affine(n_features))
    return LazyComposedTransform(*steps)


@torch.no_grad()
def load_piecewise_affine_flow(flow, params):
    """Set a ``make_piecewise_affine_flow`` to given layers.

    ``params`` as :func:`sklearn_ivae._kinks.piecewise_affine_parameters`
    returns them: ``first`` (packed LU), per layer ``shift``, ``log_slope``
    and ``linear`` (packed LU), and ``last_shift``. Every scale is set to 1.
    """
    steps = flow.transforms

    def put(tensor, value):
        tensor.copy_(torch.as_tensor(value, dtype=tensor.dtype, device=tensor.device))

    if len(steps) != 3 * len(params["layers"]) + 2:
        raise ValueError(
            f"the flow has {(len(steps) - 2) // 3} layers, the parameters {len(params['layers'])}"
        )
    put(steps[0]._0, params["first"])
    for t, layer in enumerate(params["layers"]):
        shift, leaky, linear = steps[1 + 3 * t], steps[2 + 3 * t], steps[3 + 3 * t]
        put(shift._0, layer["shift"])
        put(shift._1, torch.zeros_like(shift._1))
        put(leaky._0, layer["log_slope"])
        put(linear._0, layer["linear"])
    put(steps[-1]._0, params["last_shift"])
    put(steps[-1]._1, torch.zeros_like(steps[-1]._1))


def _elementwise_affine(n_features):
    # MonotonicAffineTransform(shift, unconstrained log-scale): identity at zero.
    return UnconditionalTransform(
        MonotonicAffineTransform, torch.zeros(n_features), torch.zeros(n_features)
    )


class FlowLatents(nn.Module):
    """A fitted flow's standardized latents, as a fixed map of x.

    z = (T(a * x + b)[:, index] - mean) / std, with T a spline flow of
    ``make_spline_flow``'s default shape: a and b take x from one
    standardization of the data to the flow's own, ``index`` keeps some of its
    latents, mean and std standardize them. Nothing in it is trained: ``load``
    copies a fitted flow in, and its parameters never get gradients. An
    IVAE started from a flow keeps it inside its encoder (see ``IVAEModule``).

    Parameters
    ----------
    n_features, n_components : int
        Data dimension (the flow's) and number of latents kept.
    hidden_layer_sizes : tuple of int
        Hidden widths of the flow's autoregressive conditioners.
    activation : str
        Their hidden activation (see ``ACTIVATIONS``).
    """

    def __init__(
        self, n_features, n_components, hidden_layer_sizes=(64, 64), activation="leaky_relu"
    ):
        super().__init__()
        self.flow = make_spline_flow(
            n_features, hidden_layer_sizes=hidden_layer_sizes, activation=activation
        )
        self.register_buffer("input_scale", torch.ones(n_features))
        self.register_buffer("input_shift", torch.zeros(n_features))
        self.register_buffer("index", torch.arange(n_components))
        self.register_buffer("mean", torch.zeros(n_components))
        self.register_buffer("std", torch.ones(n_components))
        self.requires_grad_(False)

    @torch.no_grad()
    def load(self, flow_module, index, input_scale, input_shift, mean, std):
        """Copy a fitted ``IdentifiableFlowModule``'s flow and the maps around it in."""
        self.flow.load_state_dict(flow_module.flow.state_dict())
        for name, value in [
            ("index", index),
            ("input_scale", input_scale),
            ("input_shift", input_shift),
            ("mean", mean),
            ("std", std),
        ]:
            buffer = getattr(self, name)
            buffer.copy_(torch.as_tensor(value, dtype=buffer.dtype))
        return self

    def forward(self, x):
        z = self.flow()(x * self.input_scale + self.input_shift)
        return (z[:, self.index] - self.mean) / self.std


class IdentifiableFlowModule(nn.Module):
    """Normalizing flow with an identifying prior: iFlow, or a Gaussian mixture.

    The flow T = f^-1 maps data x to latents z = T(x). With
    ``prior='conditional'`` (iFlow, Li et al. 2020) the prior is
    p(z|u) = prod_i N(z_i; m_i(u), v_i(u)). In exponential-family form, with
    sufficient statistics (z_i, z_i^2), the natural parameters are
    eta_1 = m / v (free sign) and eta_2 = -1 / (2 v) < 0, the constraint that
    keeps the density proper; parametrizing by (m, log v) enforces exactly that
    for any batch size. With ``prior='mixture'`` (Kivva et al. 2022) it is a
    learned Gaussian mixture and u is not used.

    ``forward(x, u)`` returns the exact per-sample log-likelihood
    log p(x|u) = log p(T(x)|u) + log |det dT/dx|.

    Parameters
    ----------
    n_features : int
        Data (and latent) dimension.
    n_aux : int
        Dimension of the encoded auxiliary variable (0 for a mixture prior).
    aux_kind : {'categorical', 'continuous', None}
        How u is read by a conditional prior (a free table, or an MLP).
    hidden_layer_sizes : tuple of int
        Hidden widths of the autoregressive conditioners and of the prior MLP.
    activation : str
        Hidden activation (see ``ACTIVATIONS``).
    n_transforms : int
        Number of spline steps, or of leaky-ReLU layers.
    n_bins : int
        Number of spline bins.
    bound : float
        Half-width of the interval on which each spline acts.
    linear : bool
        Whether invertible linear maps are interleaved between the splines.
    prior_mean : bool
        Whether u modulates the prior means as well as the variances.
    flow : {'spline', 'piecewise_affine'}
        Neural spline flow, or LU-linear maps with invertible leaky ReLUs.
    prior : {'conditional', 'mixture'}
        The prior p(z|u), or a Gaussian mixture p(z).
    n_mixture_components : int
        Number of components of the mixture prior.
    mixture_covariance : {'diag', 'full'}
        Covariance of each mixture component.
    """

    def __init__(
        self,
        n_features,
        n_aux=0,
        aux_kind="categorical",
        hidden_layer_sizes=(64, 64),
        activation="leaky_relu",
        n_transforms=4,
        n_bins=8,
        bound=5.0,
        linear=True,
        prior_mean=True,
        flow="spline",
        prior="conditional",
        n_mixture_components=5,
        mixture_covariance="diag",
    ):
        super().__init__()
        if flow == "spline":
            self.flow = make_spline_flow(
                n_features, n_transforms, n_bins, bound, hidden_layer_sizes, activation, linear
            )
        else:
            self.flow = make_piecewise_affine_flow(n_features, n_transforms)
        if prior == "mixture":
            self.prior = MixturePrior(n_features, n_mixture_components, mixture_covariance)
        else:
            self.prior = ConditionalPrior(
                n_aux, n_features, aux_kind, hidden_layer_sizes, activation, prior_mean
            )

    def transform(self, x):
        """Latents z = f^-1(x)."""
        return self.flow()(x)

    latents = transform

    def inverse_transform(self, z):
        """Data x = f(z), the exact inverse of ``transform``."""
        return self.flow().inv(z)

    def natural_parameters(self, u):
        """(eta_1, eta_2) of p(z|u) for the sufficient statistics (z, z^2)."""
        loc, log_var = self.prior.params(u)
        precision = torch.exp(-log_var)
        return loc * precision, -0.5 * precision

    def forward(self, x, u=None):
        z, log_abs_det = self.flow().call_and_ladj(x)
        return self.prior.log_prob(z, u) + log_abs_det

    @torch.no_grad()
    def sample(self, u, n_samples=None, generator=None):
        """Draw (z, x) with z ~ p(z|u), x = f(z)."""
        z = self.prior.sample(len(u) if n_samples is None else n_samples, u, generator)
        return z, self.inverse_transform(z)
