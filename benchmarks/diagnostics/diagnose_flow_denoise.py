"""How much could a noise model add to the flow's latents under noise? Linearized posteriors.

On the noise suite's data (``make_nonlinear_ica``: 5 sources, 40 segments x
1,000 points, 3 leaky-ReLU layers of slope 0.2, observation noise of sd
``--noise``), ``IdentifiableFlow()`` models no noise: its latents z = T(x)
carry the noise through T's Jacobian J. Taking the flow as the true inverse
mixing and the noise as Gaussian of variance ``factor`` times the true one
(in the flow's standardized units), z = s + J e to first order, and with the
flow's own prior the posterior mean of s is linear-Gaussian:

- ``with_u``: E[s|z,u] = m_u + V_u (V_u + J S J^T)^-1 (z - m_u), the prior of
  the row's segment;
- ``without_u``: E[s|z] under the prior averaged over the segments (a
  mixture: each segment's posterior mean weighted by its responsibility), the
  point estimate a ``transform`` without u could return.

The MCC of each against the sources, beside the flow's own latents, says how
much a posterior built from the flow's inverse and a noise model could win
(``factor`` 0.5 is about the noise variance IVAE learns after a flow start).
``ml_noise_var`` checks whether the noise variance can be told from the
flow's latents alone: the mean over features of the variance, relative to
the truth, that maximizes the linearized likelihood
sum log N(z; m_u, V_u + J S J^T) over S, m_u and V_u (Adam, 300 steps on
batches of 8,000 rows).

    OMP_NUM_THREADS=1 python benchmarks/diagnostics/diagnose_flow_denoise.py --seeds 1 2 3 \\
        --out benchmarks/recorded/diagnostics/flow_denoise.csv
"""

import argparse

import numpy as np
import torch
from _shared import append_csv_row, print_row

from sklearn_ivae import IdentifiableFlow
from sklearn_ivae.datasets import make_nonlinear_ica
from sklearn_ivae.metrics import mean_corr_coef

FACTORS = (0.5, 1.0)


def latents_and_jacobians(estimator, X, u):
    """The flow's latents z, their Jacobians dz/dx (standardized x), each row's segment prior."""
    module = estimator._inference_module()
    x = torch.as_tensor(estimator._scale(X), dtype=torch.float64).requires_grad_(True)
    z = module.transform(x)
    # A flow maps each row on its own: the gradient of a column sum is per row.
    J = torch.stack(
        [torch.autograd.grad(z[:, i].sum(), x, retain_graph=True)[0] for i in range(z.shape[1])],
        dim=1,
    )
    aux = estimator.aux_encoder_
    with torch.no_grad():
        support = torch.as_tensor(aux.support_, dtype=torch.float64)
        means, log_var = module.prior.params(support)
    segment = torch.as_tensor(aux.labels(u))
    weights = torch.as_tensor(np.exp(aux.log_weights_))
    return z.detach(), J, means, log_var.exp(), segment, weights


def posterior_mean_with_u(z, J, noise_var, means, variances, segment):
    V = torch.diag_embed(variances[segment])
    C = J @ torch.diag(noise_var) @ J.transpose(1, 2)
    shift = torch.linalg.solve(V + C, (z - means[segment]).unsqueeze(-1))
    return means[segment] + (V @ shift).squeeze(-1)


def posterior_mean_without_u(z, J, noise_var, means, variances, weights, chunk=2000):
    V = torch.diag_embed(variances)
    out = []
    for start in range(0, len(z), chunk):
        zc, Jc = z[start : start + chunk], J[start : start + chunk]
        C = Jc @ torch.diag(noise_var) @ Jc.transpose(1, 2)
        L = torch.linalg.cholesky(V[None] + C[:, None])
        r = zc[:, None] - means[None]
        solved = torch.cholesky_solve(r.unsqueeze(-1), L).squeeze(-1)
        log_density = -0.5 * (r * solved).sum(-1)
        log_density = log_density - torch.log(torch.diagonal(L, dim1=-2, dim2=-1)).sum(-1)
        responsibility = torch.softmax(log_density + torch.log(weights)[None], dim=1)
        segment_means = means[None] + (V[None] @ solved.unsqueeze(-1)).squeeze(-1)
        out.append((responsibility[..., None] * segment_means).sum(1))
    return torch.cat(out)


def ml_noise_var(z, J, segment, steps=300, batch=8000):
    """The noise variance (per feature) that best explains z with per-segment priors."""
    k = int(segment.max()) + 1
    means = torch.nn.Parameter(torch.stack([z[segment == s].mean(0) for s in range(k)]))
    log_var = torch.nn.Parameter(torch.stack([z[segment == s].var(0).log() for s in range(k)]))
    log_noise = torch.nn.Parameter(torch.full((z.shape[1],), -4.0, dtype=z.dtype))
    optimizer = torch.optim.Adam([means, log_var, log_noise], lr=0.05)
    for _ in range(steps):
        rows = torch.randint(len(z), (batch,))
        C = J[rows] @ torch.diag_embed(log_noise.exp()) @ J[rows].transpose(1, 2)
        covariance = torch.diag_embed(log_var[segment[rows]].exp()) + C
        density = torch.distributions.MultivariateNormal(means[segment[rows]], covariance)
        loss = -density.log_prob(z[rows]).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return log_noise.exp().detach()


def run_seed(seed, args):
    X, S, u = make_nonlinear_ica(
        n_sources=5,
        n_segments=40,
        n_samples_per_segment=1000,
        n_layers=args.layers,
        slope=0.2,
        noise_std=args.noise,
        random_state=seed,
    )
    estimator = IdentifiableFlow(random_state=0).fit(X, u)
    z, J, means, variances, segment, weights = latents_and_jacobians(estimator, X, u)
    true_var = torch.as_tensor(args.noise**2 / estimator.x_scale_**2)
    row = {"seed": seed, "layers": args.layers, "noise": args.noise}
    row["flow"] = mean_corr_coef(S, z.numpy())
    for factor in FACTORS:
        with_u = posterior_mean_with_u(z, J, factor * true_var, means, variances, segment)
        without_u = posterior_mean_without_u(z, J, factor * true_var, means, variances, weights)
        row[f"with_u_x{factor:g}"] = mean_corr_coef(S, with_u.numpy())
        row[f"without_u_x{factor:g}"] = mean_corr_coef(S, without_u.numpy())
    torch.manual_seed(seed)
    row["ml_noise_var"] = float((ml_noise_var(z, J, segment) / true_var).mean())
    append_csv_row(row, args.out)
    print_row(row)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--noise", type=float, default=0.1)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for seed in args.seeds:
        run_seed(seed, args)


if __name__ == "__main__":
    main()
