"""How well can *any* estimator recover the sources from noisy data? An oracle.

On ``make_nonlinear_ica`` data with observation noise (x = f(s) + e, e of
standard deviation ``--noise``), the true model is known: the mixing f (its
layers' matrices), the segment-wise prior p(s|u) and the noise. Two oracles
use it, in the units of S (no FastICA needed: they are already aligned):

- ``inverse``: f^-1(x), the exact inverse of the true mixing applied to the
  noisy rows. It is what a perfect noiseless flow (``IdentifiableFlow`` at its
  optimum, which models no noise) would return: the noise is amplified by
  the inverse Jacobian.
- ``posterior mean``: E[s|x] under the true model, without u (what
  ``transform`` may use: the prior is the mixture over segments) and with u
  (``E[s|x,u]``, an upper bound for any encoder). Computed by a Metropolis
  chain per row, started at its true s (an exact posterior draw, so the chain
  is at stationarity from the start; ``--start inverse --burn-in N`` starts
  at f^-1(x) instead, as a check); ``acceptance`` is the chains' mean
  acceptance rate.

If a fitted estimator's MCC is near the ``posterior mean`` MCC, the data (not
the method) is the limit at this noise level; the gap between ``inverse`` and
``posterior mean`` is what a noise model could win over a noiseless flow.

    OMP_NUM_THREADS=1 python benchmarks/diagnostics/diagnose_noise_ceiling.py [--seeds 1 2 3 4 5] \\
        [--out benchmarks/recorded/diagnostics/noise_ceiling.csv]
"""

import argparse
import math
import time

import numpy as np
import torch
from _shared import append_csv_row, markdown, print_row

import sklearn_ivae.datasets as datasets
from sklearn_ivae.metrics import mean_corr_coef


def noisy_data_and_mixing(seed, args):
    """The noisy data, S, u and the true mixing's matrices (captured from the generator)."""
    captured = {}
    original = datasets._random_mlp_mixing

    def capturing(*a, **kw):
        H, captured["matrices"] = original(*a, **kw, return_matrices=True)
        return H

    datasets._random_mlp_mixing = capturing
    try:
        X, S, u = datasets.make_nonlinear_ica(
            n_sources=args.n_sources,
            n_segments=args.n_segments,
            n_samples_per_segment=args.n_samples_per_segment,
            n_layers=args.layers,
            slope=args.slope,
            noise_std=args.noise,
            random_state=seed,
        )
    finally:
        datasets._random_mlp_mixing = original
    return X, S, u, [torch.as_tensor(A) for A in captured["matrices"]]


def mix(s, matrices, slope):
    """f(s) and, per row, the slopes of each hidden layer's leaky ReLU."""
    h = s
    slopes = []
    for i, A in enumerate(matrices):
        h = h @ A.T
        if i < len(matrices) - 1:
            d = torch.where(h > 0, 1.0, slope).to(h.dtype)
            slopes.append(d)
            h = h * d
    return h, slopes


def unmix(x, matrices, slope):
    """f^-1(x) for a square mixing."""
    h = x
    for i, A in reversed(list(enumerate(matrices))):
        if i < len(matrices) - 1:
            h = torch.where(h > 0, h, h / slope)
        h = torch.linalg.solve(A, h.T).T
    return h


def jacobian(slopes, matrices):
    """df/ds at the points whose hidden slopes are given: A_L D A_(L-1) ... D A_1."""
    J = matrices[0].expand(slopes[0].shape[0] if slopes else 1, *matrices[0].shape)
    for d, A in zip(slopes, matrices[1:], strict=True):
        J = A @ (d.unsqueeze(-1) * J)
    return J


def segment_prior(S, u):
    """Each segment's source means and variances (estimated from its rows)."""
    labels = np.unique(u)
    means = np.stack([S[u == k].mean(0) for k in labels])
    variances = np.stack([S[u == k].var(0) for k in labels])
    index = np.searchsorted(labels, u)
    return torch.as_tensor(means), torch.as_tensor(variances), torch.as_tensor(index)


def log_normal_diag(z, mean, var):
    return -0.5 * (((z - mean) ** 2 / var) + torch.log(2 * math.pi * var)).sum(-1)


def posterior_means(X, S, u_index, matrices, means, variances, args, generator):
    """E[s|x] (prior: the mixture over segments) and E[s|x,u], by MCMC.

    Each row's true s is an exact draw from its posterior p(s|x,u) (and from
    p(s|x)): (s, x) was drawn from the joint. A Metropolis chain started there
    is at stationarity from its first step, so no burn-in is needed and the
    mean of its states estimates the posterior mean. The proposal is a
    Gaussian random walk with the local posterior covariance at the start
    (fixed per row, so the walk is symmetric), scaled by 2.38 / sqrt(d).
    """
    slope, sigma2 = args.slope, args.noise**2
    n_segments, d = means.shape
    s_true = torch.as_tensor(S)

    def log_target(z, x, k, conditional):
        fz, _ = mix(z, matrices, slope)
        log_lik = -0.5 * ((x - fz) ** 2).sum(-1) / sigma2
        if conditional:
            return log_lik + log_normal_diag(z, means[k], variances[k])
        mixture = log_normal_diag(z.unsqueeze(-2), means, variances)
        return log_lik + torch.logsumexp(mixture, -1) - math.log(n_segments)

    results, acceptance = {}, {}
    for conditional in (False, True):
        z = s_true.clone() if args.start == "truth" else unmix(X, matrices, slope)
        _, slopes = mix(z, matrices, slope)
        J = jacobian(slopes, matrices)
        precision = J.transpose(-1, -2) @ J / sigma2 + torch.diag_embed(1.0 / variances[u_index])
        L = torch.linalg.cholesky(torch.linalg.inv(precision)) * (2.38 / math.sqrt(d))
        current = log_target(z, X, u_index, conditional)
        total, accepted = torch.zeros_like(z), torch.zeros(())
        for step in range(args.n_steps):
            eps = torch.randn(z.shape, generator=generator, dtype=z.dtype)
            proposal = z + (L @ eps.unsqueeze(-1)).squeeze(-1)
            candidate = log_target(proposal, X, u_index, conditional)
            accept = torch.rand(z.shape[0], generator=generator, dtype=z.dtype).log() < (
                candidate - current
            )
            z = torch.where(accept.unsqueeze(-1), proposal, z)
            current = torch.where(accept, candidate, current)
            if step >= args.burn_in:
                total += z
            accepted += accept.double().mean()
        results[conditional] = total / (args.n_steps - args.burn_in)
        acceptance[conditional] = float(accepted / args.n_steps)
    return results[False], results[True], acceptance[False]


def run_seed(seed, args):
    t0 = time.process_time()
    X, S, u, matrices = noisy_data_and_mixing(seed, args)
    means, variances, u_index = segment_prior(S, u)
    x = torch.as_tensor(X)
    generator = torch.Generator().manual_seed(seed)
    inverse = unmix(x, matrices, args.slope).numpy()
    marginal, conditional, acceptance = posterior_means(
        x, S, u_index, matrices, means, variances, args, generator
    )
    return {
        "seed": seed,
        "inverse": round(mean_corr_coef(S, inverse), 3),
        "posterior mean": round(mean_corr_coef(S, marginal.numpy()), 3),
        "posterior mean given u": round(mean_corr_coef(S, conditional.numpy()), 3),
        "acceptance": round(acceptance, 2),
        "cpu s": round(time.process_time() - t0, 1),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--noise", type=float, default=0.1)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--slope", type=float, default=0.2)
    parser.add_argument("--n-sources", type=int, default=5)
    parser.add_argument("--n-segments", type=int, default=40)
    parser.add_argument("--n-samples-per-segment", type=int, default=1000)
    parser.add_argument("--n-steps", type=int, default=2000)
    parser.add_argument("--burn-in", type=int, default=0)
    parser.add_argument("--start", choices=["truth", "inverse"], default="truth")
    parser.add_argument("--out", help="CSV to append one row per seed to")
    args = parser.parse_args(argv)
    torch.set_default_dtype(torch.float64)
    rows = []
    for seed in args.seeds:
        rows.append(run_seed(seed, args))
        print_row(rows[-1])
        if args.out:
            append_csv_row(rows[-1], args.out)
    print(markdown(rows))


if __name__ == "__main__":
    main()
