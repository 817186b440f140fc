"""The torch modules: priors, posteriors and the bound, against torch.distributions."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal
from torch import distributions as D

from sklearn_ivae.nn import (
    ConditionalPrior,
    DiagonalGaussian,
    FlowPosterior,
    FullGaussian,
    IVAEModule,
    LogitNormal,
    MixturePrior,
    StandardPrior,
)
from sklearn_ivae.nn.priors import check_prior_options

K = 3  # latent dimension


@pytest.fixture(autouse=True)
def float64():
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(0)
    yield
    torch.set_default_dtype(default)


def random_tril(n, k=K):
    tril = torch.randn(n, k, k).tril(-1) * 0.5
    return tril + torch.diag_embed(torch.exp(0.3 * torch.randn(n, k)))


def posteriors(n=4):
    loc = torch.randn(n, K)
    return {
        "diag": DiagonalGaussian(loc, 0.5 * torch.randn(n, K)),
        "full": FullGaussian(loc, random_tril(n)),
    }


# ------------------------------------------------------------------ priors
@pytest.mark.parametrize(
    "family, reference",
    [
        ("gaussian", D.Normal(0.0, 1.0)),
        ("laplace", D.Laplace(0.0, math.sqrt(0.5))),  # unit variance: 2 b^2 = 1
    ],
)
def test_standard_prior_log_prob(family, reference):
    z = torch.randn(2, 5, K)
    expected = reference.log_prob(z).sum(-1)
    torch.testing.assert_close(StandardPrior(K, family).log_prob(z), expected)


def test_uniform_prior_log_prob():
    prior = StandardPrior(K, "uniform")
    z = torch.rand(5, K)
    torch.testing.assert_close(prior.log_prob(z), D.Uniform(0.0, 1.0).log_prob(z).sum(-1))
    assert prior.log_prob(torch.full((1, K), 1.5)).item() == -math.inf
    sample = prior.sample(1000, generator=torch.Generator().manual_seed(0))
    assert ((sample > 0) & (sample < 1)).all() and abs(sample.mean() - 0.5) < 0.03


@pytest.mark.parametrize("aux_kind", ["categorical", "continuous"])
@pytest.mark.parametrize("family", ["gaussian", "laplace"])
def test_conditional_prior_log_prob(aux_kind, family):
    prior = ConditionalPrior(4, K, aux_kind, (8,), family=family)
    u = torch.eye(4) if aux_kind == "categorical" else torch.randn(4, 4)
    loc, log_var = prior.params(u)
    std = torch.exp(0.5 * log_var)
    reference = D.Normal(loc, std) if family == "gaussian" else D.Laplace(loc, std / math.sqrt(2))
    z = torch.randn(2, 4, K)  # two draws per row of u
    torch.testing.assert_close(prior.log_prob(z, u), reference.log_prob(z).sum(-1))
    # Draws have the prior's moments.
    u_many = u[:1].expand(20000, -1)
    sample = prior.sample(20000, u_many, torch.Generator().manual_seed(0))
    torch.testing.assert_close(sample.mean(0), loc[0], atol=0.05, rtol=0)
    torch.testing.assert_close(sample.var(0), std[0] ** 2, rtol=0.05, atol=0)


@pytest.mark.parametrize("covariance", ["diag", "full"])
def test_mixture_prior_log_prob_is_the_mixture_density(covariance):
    prior = MixturePrior(K, 3, covariance)
    with torch.no_grad():
        prior.logits.copy_(torch.randn(3))
        prior.log_scales.copy_(0.3 * torch.randn(3, K))
        if covariance == "full":
            prior.off_diagonal.copy_(0.5 * torch.randn(3, K * (K - 1) // 2))
    weights, means, covariances = (t.numpy() for t in prior.export())
    z = torch.randn(6, K)
    expected = np.log(
        sum(
            w * multivariate_normal(m, c).pdf(z.numpy())
            for w, m, c in zip(weights, means, covariances, strict=True)
        )
    )
    np.testing.assert_allclose(prior.log_prob(z).detach().numpy(), expected, rtol=1e-10)
    # set_mixture then export is the identity.
    other = MixturePrior(K, 3, covariance)
    other.set_mixture(
        weights,
        means,
        covariances if covariance == "full" else np.diagonal(covariances, axis1=1, axis2=2),
    )
    for a, b in zip(other.export(), prior.export(), strict=True):
        torch.testing.assert_close(a, b)
    resp = prior.responsibilities(z)
    torch.testing.assert_close(resp.sum(-1), torch.ones(6))


@pytest.mark.parametrize("name", ["diag", "full"])
@pytest.mark.parametrize(
    "prior",
    [StandardPrior(K), ConditionalPrior(4, K, "categorical")],
    ids=["standard", "conditional"],
)
def test_analytic_kl_matches_torch_and_monte_carlo(name, prior):
    prior = prior.double()
    posterior = posteriors()[name]
    u = torch.eye(4)
    kl = prior.kl(posterior, u)
    loc_p, log_var_p = prior.params(u, 4)
    p = D.MultivariateNormal(loc_p, covariance_matrix=torch.diag_embed(torch.exp(log_var_p)))
    if name == "diag":
        covariance = torch.diag_embed(torch.exp(posterior.log_var))
        q = D.MultivariateNormal(posterior.loc, covariance_matrix=covariance)
    else:
        q = D.MultivariateNormal(posterior.loc, scale_tril=posterior.scale_tril)
    torch.testing.assert_close(kl, D.kl_divergence(q, p))
    draw = posterior.rsample(20000, torch.Generator().manual_seed(0))
    monte_carlo = (draw.log_prob - prior.log_prob(draw.z, u)).mean(0)
    torch.testing.assert_close(kl, monte_carlo, atol=0.05, rtol=0.02)


def test_no_closed_form_kl_gives_none():
    posterior = posteriors()["full"]
    assert StandardPrior(K, "laplace").kl(posterior) is None
    assert MixturePrior(K, 2).kl(posterior) is None
    assert StandardPrior(K).kl(LogitNormal(posterior)) is None


def test_invalid_prior_options_are_named():
    check_prior_options("isotropic", "uniform")
    with pytest.raises(ValueError, match="prior='mixture' supports source_distribution in"):
        check_prior_options("mixture", "laplace")
    with pytest.raises(ValueError, match="use prior='isotropic'"):
        check_prior_options("conditional", "uniform")


# -------------------------------------------------------------- posteriors
def test_gaussian_posteriors_log_prob_match_torch():
    z = torch.randn(2, 4, K)
    q = posteriors()
    diag = D.Independent(D.Normal(q["diag"].loc, torch.exp(0.5 * q["diag"].log_var)), 1)
    full = D.MultivariateNormal(q["full"].loc, scale_tril=q["full"].scale_tril)
    torch.testing.assert_close(q["diag"].log_prob(z), diag.log_prob(z))
    torch.testing.assert_close(q["full"].log_prob(z), full.log_prob(z))


def test_posteriors_from_a_precision_have_its_covariance():
    # Full: the covariance is the precision's inverse. Mean field: the
    # variances 1 / P_ii that minimize KL(q || N(0, P^-1)), below the
    # covariance's diagonal for a correlated P.
    torch.manual_seed(0)
    A = torch.randn(6, K, K, dtype=torch.float64)
    precision = A @ A.transpose(1, 2) + 0.1 * torch.eye(K, dtype=torch.float64)
    loc = torch.zeros(6, K, dtype=torch.float64)
    full = FullGaussian.from_encoder_output(loc, FullGaussian.params_from_precision(precision))
    covariance = full.scale_tril @ full.scale_tril.transpose(1, 2)
    torch.testing.assert_close(covariance, torch.linalg.inv(precision))
    diag = DiagonalGaussian.from_encoder_output(
        loc, DiagonalGaussian.params_from_precision(precision)
    )
    diagonal = torch.diagonal(precision, dim1=-2, dim2=-1)
    torch.testing.assert_close(torch.exp(diag.log_var), 1 / diagonal)


@pytest.mark.parametrize("name", ["diag", "full", "logit-normal"])
def test_draws_carry_their_log_prob_and_mirror_in_pairs(name):
    q = posteriors()
    posterior = LogitNormal(q["full"]) if name == "logit-normal" else q[name]
    draw = posterior.rsample(5, torch.Generator().manual_seed(0), antithetic=True)
    assert draw.z.shape == (10, 4, K) and draw.log_prob.shape == (10, 4)
    torch.testing.assert_close(draw.log_prob, posterior.log_prob(draw.z))
    if name != "logit-normal":
        torch.testing.assert_close(
            draw.z[:5] + draw.z[5:], 2 * posterior.location.expand(5, -1, -1)
        )


def test_logit_normal_log_prob_matches_torch():
    base = posteriors()["full"]
    reference = D.TransformedDistribution(
        D.MultivariateNormal(base.loc, scale_tril=base.scale_tril), [D.SigmoidTransform()]
    )
    z = reference.sample((3,))
    torch.testing.assert_close(LogitNormal(base).log_prob(z), reference.log_prob(z))
    torch.testing.assert_close(LogitNormal(base).location, torch.sigmoid(base.loc))


def flow_posterior(n=4):
    """A Gaussian posterior mapped by 2 coupling layers given 5-dim rows x, moved off
    the identity so that the test sees a real transform."""
    from sklearn_ivae.nn.ivae import make_posterior_flow

    flow = make_posterior_flow(K, 5, 2, (8,))
    with torch.no_grad():
        for parameter in flow.parameters():
            parameter.add_(0.3 * torch.randn_like(parameter))
    return FlowPosterior(posteriors(n)["full"], flow(torch.randn(n, 5)))


def test_flow_posterior_draws_carry_their_log_prob():
    posterior = flow_posterior()
    draw = posterior.rsample(5, torch.Generator().manual_seed(0), antithetic=True)
    assert draw.z.shape == (10, 4, K)
    # log q by the inverse map equals log q of the draw (forward map).
    torch.testing.assert_close(draw.log_prob, posterior.log_prob(draw.z))
    # The location is the image of the Gaussian's mean.
    torch.testing.assert_close(posterior.location, posterior.transform(posterior.base.location))


def test_flow_posterior_log_prob_is_the_change_of_variables():
    posterior = flow_posterior(n=1)
    z = posterior.rsample(3).z[:, 0]  # (3, K), one row of x
    jacobians = [
        torch.autograd.functional.jacobian(lambda v: posterior.transform(v[None])[0], y)
        for y in posterior.transform.inv(z[:, None])[:, 0]
    ]
    y = posterior.transform.inv(z[:, None])
    expected = posterior.base.log_prob(y)[:, 0] - torch.stack(
        [torch.linalg.slogdet(J)[1] for J in jacobians]
    )
    torch.testing.assert_close(posterior.log_prob(z[:, None])[:, 0], expected)


def test_flow_posterior_starts_as_the_gaussian():
    torch.manual_seed(0)
    plain = IVAEModule(5, K, n_aux=3, aux_kind="categorical", n_importance_samples=4)
    with_flow = IVAEModule(
        5, K, n_aux=3, aux_kind="categorical", n_importance_samples=4, posterior_transforms=2
    )
    state = {k: v for k, v in with_flow.state_dict().items() if not k.startswith("posterior_flow")}
    plain.load_state_dict(state)
    x, u = torch.randn(6, 5), torch.eye(3)[torch.tensor([0, 1, 2, 0, 1, 2])]
    a = with_flow(x, u, generator=torch.Generator().manual_seed(0))
    b = plain(x, u, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(a, b)
    with pytest.raises(NotImplementedError, match="dreg"):
        with_flow.posterior(x).detach()


# ---------------------------------------------------------------- the bound
def linear_gaussian_vae(n_importance_samples=1, decoder_var=0.5):
    """A VAE whose decoder and encoder are affine: log p(x) is known exactly."""
    torch.manual_seed(0)
    module = IVAEModule(
        n_features=4,
        n_components=2,
        hidden_layer_sizes=(),
        prior="isotropic",
        decoder_var=decoder_var,
        n_importance_samples=n_importance_samples,
    ).double()
    W, b = module.decoder[0].weight, module.decoder[0].bias
    covariance = W @ W.T + decoder_var * torch.eye(4)
    return module, D.MultivariateNormal(b, covariance)


def bound(module, x, n_importance_samples, seed=0):
    module.n_importance_samples = n_importance_samples
    with torch.no_grad():
        return module(x, generator=torch.Generator().manual_seed(seed))


def test_elbo_is_exact_with_the_true_posterior():
    module, marginal = linear_gaussian_vae()
    x = marginal.sample((50,)).detach()
    # The true posterior of a linear-Gaussian model: N(A x + c, S) with
    # S = (I + W^T W / s2)^-1, A = S W^T / s2, c = -A b.
    W, b = module.decoder[0].weight.detach(), module.decoder[0].bias.detach()
    S = torch.linalg.inv(torch.eye(2) + W.T @ W / 0.5)
    A = S @ W.T / 0.5
    L = torch.linalg.cholesky(S)
    with torch.no_grad():
        layer = module.encoder[0]
        layer.weight.zero_()
        layer.weight[:2] = A
        layer.bias.zero_()
        layer.bias[:2] = -A @ b
        # Cholesky entries in tril_indices order; the diagonal as log-std.
        rows, cols = torch.tril_indices(2, 2)
        entries = L[rows, cols].clone()
        entries[rows == cols] = torch.log(entries[rows == cols])
        layer.bias[2:] = entries
    # Every importance weight is p(x): the Monte Carlo bound is exact per row.
    torch.testing.assert_close(bound(module, x, 7), marginal.log_prob(x))
    # The ELBO's reconstruction term is estimated, its KL analytic: exact on average.
    elbo = bound(module, x.repeat(100, 1), 1).mean()
    torch.testing.assert_close(elbo, marginal.log_prob(x).mean(), atol=0.01, rtol=0)


def test_importance_weighted_bound_rises_with_k_towards_the_likelihood():
    module, marginal = linear_gaussian_vae()
    x = marginal.sample((200,)).detach()
    exact = marginal.log_prob(x).mean().detach()
    gaps = [float(exact - bound(module, x, k).mean()) for k in (1, 4, 32, 512)]
    assert gaps[0] > 0.1, gaps  # the random encoder is a poor posterior
    assert all(a > b for a, b in zip(gaps[:-1], gaps[1:], strict=True)), gaps
    assert gaps[-1] > -0.01 and gaps[-1] < 0.25 * gaps[0], gaps


def test_importance_weighted_bound_is_above_the_elbo_on_the_same_batch():
    module, marginal = linear_gaussian_vae()
    x = marginal.sample((500,)).detach()
    elbo, iwae = bound(module, x, 1), bound(module, x, 8)
    assert iwae.mean() > elbo.mean()


def test_dreg_gradient_is_unbiased():
    """The encoder's DReG gradient has the expectation of the IWAE gradient."""
    module, marginal = linear_gaussian_vae(n_importance_samples=4)
    module.dreg = True
    x = marginal.sample((1,)).detach().expand(20000, -1)

    def encoder_grad(objective):
        module.zero_grad()
        objective.mean().backward()
        return torch.cat([p.grad.flatten() for p in module.encoder.parameters()])

    dreg = encoder_grad(module(x, generator=torch.Generator().manual_seed(1)))
    # The plain IWAE gradient: the same bound, log q with its parameters attached.
    posterior = module.posterior(x)
    draw = posterior.rsample(4, torch.Generator().manual_seed(1), antithetic=True)
    log_w = module.log_likelihood(x, module.decode(draw.z)) - draw.log_prob
    log_w = (log_w + module.prior.log_prob(draw.z)).unflatten(0, (2, 4))
    iwae = encoder_grad((torch.logsumexp(log_w, 1) - math.log(4)).mean(0))
    torch.testing.assert_close(dreg, iwae, atol=0.03 * float(iwae.abs().max()), rtol=0)
