"""Can a search over kinks reach the no-u mixture's latents where gradient training stalls?

The piecewise-affine flow trained by gradient from its own start stays near a
linear map on ``make_mixture_latents`` draws far from affine, while the true
inverse mixing scores far higher (``diagnose_mixture_deep.py``). Every kink of
the mixing's last hidden layer is a straight line in X across which the
density jumps by the leaky ReLU's slope, so it can be looked for directly.
This script peels the mixing greedily, one kink at a time, and then trains
what it found:

- ``greedy``: X standardized; at each stage every candidate kink
  ``x + (a - 1) min(w.x - c, 0) w`` (``--angles`` directions w over the
  circle, c at the 5-95% quantiles of w.x in 19 steps, a in 2, 4, 10, 20) is
  scored by the likelihood of the kinked data, a full-covariance Gaussian
  mixture of 3 components (scikit-learn's, fitted afresh on 2,000 rows) plus
  the kink's log-determinant; the best candidate is applied (and the result
  standardized) while it gains at least ``--min-gain`` nats, at most 10 kinks;
- ``finetuned``: that chain of kinks, each given a free direction of its
  displacement (v with w.v = 1, started at w), and a full-covariance mixture
  prior started at the greedy's, trained ``--epochs`` epochs on the exact
  likelihood (Adam at 3e-4, batch 256, the boundary term of the flow's leaky
  ReLU in the gradient).

- ``estimator``: ``IdentifiableFlow(prior='mixture', flow='piecewise_affine',
  init='kink_search', n_transforms=8, mixture_covariance='full')`` with its
  other defaults, the same search inside the estimator (on its own 2,000
  rows) and then its own training; ``start_r2`` is the R^2 of the kinks it
  found, before training;
- ``estimator_random``: the same estimator with ``init='random'`` (its
  default start), the control for the search.

``--stages`` picks which run. Each row: the affine R^2 of the true latents
on fresh rows, the likelihood (nats per row, standardized X) against the true
model's, and the CPU seconds.
Data: 2 latents, 3 clusters, ``--n-layers`` layers of slope ``--slope``,
5,000 training and 5,000 fresh rows.

    OMP_NUM_THREADS=1 python benchmarks/diagnostics/diagnose_mixture_greedy.py --seeds 0 1 2 3 4 \\
        --out benchmarks/recorded/diagnostics/mixture_greedy.csv
    OMP_NUM_THREADS=1 python benchmarks/diagnostics/diagnose_mixture_greedy.py --seeds 0 \\
        --angles 4 --epochs 1 --out /tmp/smoke.csv   # a smoke test
"""

import argparse
import time

import numpy as np
import torch
from _shared import append_csv_row, print_row
from sklearn.mixture import GaussianMixture
from torch import nn

from sklearn_ivae import IdentifiableFlow
from sklearn_ivae._kinks import Kink, _loglik, apply_kink
from sklearn_ivae.datasets import _draw_mixture_latents
from sklearn_ivae.metrics import affine_r2_score
from sklearn_ivae.nn.flow import BOUNDARY_BANDWIDTH

N_CLUSTERS, N_ROWS, SEARCH_ROWS = 3, 5000, 2000
SLOPES = [2.0, 4.0, 10.0, 20.0]


def kink(x, w, c, a):
    """The kinked rows and each row's log-determinant (not standardized)."""
    return apply_kink(x, Kink(w, c, a, np.zeros(x.shape[1]), np.ones(x.shape[1])))


def mixture_loglik(x, log_det):
    return _loglik(x, log_det, N_CLUSTERS, "full")


def greedy(x, fresh, angles, min_gain):
    """Kinks (w, c, a, mean, scale) found one at a time, and x, fresh after them."""
    rows = np.random.RandomState(0).choice(len(x), SEARCH_ROWS, replace=False)
    log_det = np.zeros(len(x))
    best = mixture_loglik(x[rows], log_det[rows])
    kinks = []
    for _ in range(10):
        candidates = []
        for theta in np.linspace(0, 2 * np.pi, angles, endpoint=False):
            w = np.array([np.cos(theta), np.sin(theta)])
            for c in np.quantile(x[rows] @ w, np.linspace(0.05, 0.95, 19)):
                for a in SLOPES:
                    y, det = kink(x[rows], w, c, a)
                    candidates.append((mixture_loglik(y, log_det[rows] + det), w, c, a))
        score, w, c, a = max(candidates, key=lambda candidate: candidate[0])
        if score - best < min_gain:
            break
        best = score
        x, det = kink(x, w, c, a)
        fresh, _ = kink(fresh, w, c, a)
        mean, scale = x.mean(0), x.std(0)
        x, fresh = (x - mean) / scale, (fresh - mean) / scale
        log_det = log_det + det - np.log(scale).sum()
        kinks.append((w, c, a, mean, scale))
    return kinks, x, fresh


class KinkChain(nn.Module):
    """The greedy's kinks with free displacement directions, and a mixture prior."""

    def __init__(self, kinks, z):
        super().__init__()

        def free(values):
            return nn.ParameterList(
                nn.Parameter(torch.as_tensor(v, dtype=torch.float64)) for v in values
            )

        self.w = free(k[0] for k in kinks)
        self.q = free(np.zeros(2) for _ in kinks)
        self.c = free(np.float64(k[1]) for k in kinks)
        self.log_a = free(np.log(k[2]) for k in kinks)
        self.standardize = [(torch.as_tensor(k[3]), torch.as_tensor(k[4])) for k in kinks]
        prior = GaussianMixture(N_CLUSTERS, covariance_type="full", random_state=0).fit(z)
        self.logits = nn.Parameter(torch.log(torch.as_tensor(prior.weights_)))
        self.means = nn.Parameter(torch.as_tensor(prior.means_))
        self.tril = nn.Parameter(torch.linalg.cholesky(torch.as_tensor(prior.covariances_)))

    def latents(self, x):
        log_det = torch.zeros(len(x), dtype=x.dtype)
        for w, q, c, log_a, (mean, scale) in zip(
            self.w, self.q, self.c, self.log_a, self.standardize, strict=True
        ):
            # v = w / |w|^2 plus q's part orthogonal to w: w.v = 1, so the
            # kink's determinant is a on its negative side.
            v = w / (w @ w) + q - (q @ w) * w / (w @ w)
            t = x @ w - c
            x = x + (log_a.exp() - 1) * torch.clamp(t, max=0)[:, None] * v
            hard = torch.where(t < 0, log_a, torch.zeros((), dtype=x.dtype))
            if torch.is_grad_enabled():
                soft = torch.sigmoid(-t / (BOUNDARY_BANDWIDTH * t.detach().std()))
                hard = hard + log_a.detach() * (soft - soft.detach())
            x = (x - mean) / scale
            log_det = log_det + hard - torch.log(scale).sum()
        return x, log_det

    def forward(self, x):
        z, log_det = self.latents(x)
        components = torch.distributions.MultivariateNormal(
            self.means, scale_tril=torch.tril(self.tril)
        )
        weights = torch.distributions.Categorical(logits=self.logits)
        prior = torch.distributions.MixtureSameFamily(weights, components)
        return prior.log_prob(z) + log_det


def finetune(chain, x, epochs):
    optimizer = torch.optim.Adam(chain.parameters(), lr=3e-4)
    for _ in range(epochs):
        order = torch.randperm(len(x))
        for start in range(0, len(x), 256):
            loss = -chain(x[order[start : start + 256]]).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


def run_seed(seed, args):
    X, Z, _, log_density, _ = _draw_mixture_latents(
        2 * N_ROWS, 2, 2, N_CLUSTERS, args.n_layers, 3.0, args.slope, seed, True
    )
    mean, scale = X[:N_ROWS].mean(0), X[:N_ROWS].std(0)
    x, fresh = (X[:N_ROWS] - mean) / scale, (X[N_ROWS:] - mean) / scale
    common = {
        "seed": seed,
        "n_layers": args.n_layers,
        "slope": args.slope,
        "min_gain": args.min_gain,
        "raw_r2": affine_r2_score(Z[N_ROWS:], fresh),
        "truth_loglik": log_density[:N_ROWS].mean() + np.log(scale).sum(),
    }
    rows = []
    for stage in ["estimator", "estimator_random"]:
        if stage not in args.stages:
            continue
        start = time.process_time()
        estimator = IdentifiableFlow(
            prior="mixture",
            flow="piecewise_affine",
            init="kink_search" if stage == "estimator" else "random",
            n_transforms=8,
            n_mixture_components=N_CLUSTERS,
            mixture_covariance="full",
            random_state=0,
        ).fit(X[:N_ROWS])
        cpu_s = time.process_time() - start
        kinked = estimator._scale(X[N_ROWS:]).astype(np.float64)
        for kink in getattr(estimator, "kinks_", []):
            kinked, _ = apply_kink(kinked, kink)
        row = {
            **common,
            "stage": stage,
            "n_kinks": len(getattr(estimator, "kinks_", [])),
            "start_r2": affine_r2_score(Z[N_ROWS:], kinked) if stage == "estimator" else np.nan,
            "r2": affine_r2_score(Z[N_ROWS:], estimator.transform(X[N_ROWS:])),
            # In the units of the standardized X, as the rows above.
            "loglik": estimator.score(X[:N_ROWS]) + np.log(scale).sum(),
            "cpu_s": cpu_s,
        }
        append_csv_row(row, args.out)
        print_row(row)
        rows.append(row)
    if "greedy" not in args.stages:
        return rows
    start = time.process_time()
    kinks, z, z_fresh = greedy(x, fresh, args.angles, args.min_gain)
    chain = KinkChain(kinks, z)
    for stage in ["greedy", "finetuned"]:
        if stage == "finetuned":
            torch.manual_seed(seed)
            finetune(chain, torch.as_tensor(x), args.epochs)
        with torch.no_grad():
            loglik = float(chain(torch.as_tensor(x)).mean())
            z_fresh = chain.latents(torch.as_tensor(fresh))[0].numpy()
        row = {
            **common,
            "stage": stage,
            "n_kinks": len(kinks),
            "start_r2": np.nan,
            "r2": affine_r2_score(Z[N_ROWS:], z_fresh),
            "loglik": loglik,
            "cpu_s": time.process_time() - start,
        }
        append_csv_row(row, args.out)
        print_row(row)
        rows.append(row)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--n-layers", type=int, default=4)
    parser.add_argument("--slope", type=float, default=0.1)
    parser.add_argument(
        "--stages",
        nargs="+",
        choices=["greedy", "estimator", "estimator_random"],
        default=["greedy", "estimator", "estimator_random"],
    )
    parser.add_argument("--angles", type=int, default=36, help="kink directions searched")
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument(
        "--min-gain", type=float, default=0.02, help="nats per row a kink must add to be kept"
    )
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for seed in args.seeds:
        run_seed(seed, args)


if __name__ == "__main__":
    main()
