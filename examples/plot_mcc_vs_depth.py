"""
=============================================
Recovery against the depth of the mixing
=============================================

How well does each estimator recover the sources as the mixing grows more
nonlinear? Three Laplace sources, variance-modulated across 20 segments of 300
samples, are mixed by random leaky-ReLU networks of 1 to 3 layers (1 layer is
a linear mixing). Each estimator is fitted once (one data seed, one
initialization, 15 epochs for the generative models), and its mean
correlation coefficient (MCC) with the true sources is reported.

This is a small, fast version for the documentation build: one seed and
small data give noisy numbers. The full runs (5 sources, 40 segments x 1000
points, several seeds) are on the results page, ``benchmarks/README.md``,
and in :doc:`/user_guide/benchmarks`.

TCL recovers ``|s|``, not ``s``, so its MCC is computed against ``|s|``;
the others are computed against ``s``.
"""

# %%
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import FastICA
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline

from sklearn_ivae import IVAE, IVAEGAN, IdentifiableFlow, TCLNonlinearICA
from sklearn_ivae.datasets import make_nonlinear_ica
from sklearn_ivae.metrics import mean_corr_coef

warnings.filterwarnings("ignore", category=ConvergenceWarning)

EPOCHS = 15


def estimators():
    """The estimators and baselines: (pipeline, compare with |s|?)."""
    return {
        "IVAE + FastICA": (
            make_pipeline(IVAE(max_epochs=EPOCHS, random_state=0), FastICA(random_state=0)),
            False,
        ),
        "IVAEGAN + FastICA": (
            make_pipeline(IVAEGAN(max_epochs=EPOCHS, random_state=0), FastICA(random_state=0)),
            False,
        ),
        "IdentifiableFlow": (
            IdentifiableFlow(prior_mean=False, max_epochs=EPOCHS, random_state=0),
            False,
        ),
        "TCL + FastICA (vs |s|)": (
            make_pipeline(TCLNonlinearICA(random_state=0), FastICA(random_state=0)),
            True,
        ),
        "plain VAE + FastICA (baseline)": (
            make_pipeline(
                IVAE(prior="isotropic", max_epochs=EPOCHS, random_state=0),
                FastICA(random_state=0),
            ),
            False,
        ),
        "FastICA (baseline)": (FastICA(random_state=0), False),
    }


depths = [1, 2, 3]
results = {name: [] for name in estimators()}
for depth in depths:
    X, S, u = make_nonlinear_ica(
        n_sources=3,
        n_segments=20,
        n_samples_per_segment=300,
        n_layers=depth,
        source_distribution="laplace",
        random_state=0,
    )
    for name, (model, use_abs) in estimators().items():
        start = time.perf_counter()
        estimate = model.fit_transform(X, u)
        target = np.abs(S) if use_abs else S
        mcc = mean_corr_coef(target, estimate)
        results[name].append(mcc)
        print(f"depth {depth}  {name:32s} MCC {mcc:.3f}  ({time.perf_counter() - start:.1f} s)")

# %%
# The curves. On a linear mixing FastICA is exact and the models are close
# to it. As the mixing deepens, every MCC falls; the nonlinear models stay
# above FastICA on most entries but not all. With this little data and
# training, and one seed, the differences between the nonlinear models are
# within the noise; TCL's curve is also against a different target
# (``|s|``). IVAE starts from a flow here (``init='auto'`` on 6,000 rows),
# which trains for the same 15 epochs: undertrained, it helps only at 3
# layers on these data (see the IVAE user guide). The full benchmarks
# (5 sources, several seeds, full training) separate them better: IVAE and
# TCL reach 0.9-0.97 at 2 layers and the flow leads on mean-modulated data.
fig, ax = plt.subplots(figsize=(7, 4))
for name, values in results.items():
    style = "--" if "baseline" in name else "-"
    ax.plot(depths, values, style, marker="o", label=name)
ax.set_xticks(depths)
ax.set_xlabel("number of mixing layers")
ax.set_ylabel("MCC")
ax.set_ylim(0.4, 1.02)
ax.legend(fontsize=8, loc="lower left")
ax.set_title("3 sources, 20 segments x 300 samples, one seed")
fig.tight_layout()
plt.show()
