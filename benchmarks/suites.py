"""The benchmark suites: for each, its data, its methods and how they are scored.

A :class:`Suite` is declarative: the settings of its grid, how to make the data
of one setting and data seed, its methods (each an estimator or a baseline with
its scorers), the score columns it reports, and its default options for the full
run and for ``--quick``. ``run_benchmarks.py`` runs any of them the same way
(one CSV row per fit, resumable, timed, summarized in markdown and plotted).
"""

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np
from _common import Stopwatch, fastica_mcc, holdout_split
from _plots import plot_depth, plot_ima, plot_settings
from sklearn.decomposition import FastICA
from sklearn.metrics import adjusted_rand_score

from sklearn_ivae import IVAE, IVAEGAN, IdentifiableFlow, TCLNonlinearICA
from sklearn_ivae.datasets import make_mixture_latents, make_mobius_ica, make_nonlinear_ica
from sklearn_ivae.metrics import (
    affine_r2_score,
    classifier_two_sample_score,
    ima_contrast,
    mean_corr_coef,
)

NAN = float("nan")
N_SOURCES = 5


# ------------------------------------------------------------------ the pieces


class Data(NamedTuple):
    """One data set: observations X, true sources S, auxiliary u (or None), extras."""

    X: Any
    S: Any
    u: Any = None
    extra: dict = {}


class Fit(NamedTuple):
    """What one method gives back: its scores, the Stopwatch of its fit, the fitted
    estimator (None for a baseline) and the (X, u) it was fit on (for the plain
    torch loop that times the same training)."""

    scores: dict
    clock: Stopwatch
    model: Any
    X_fit: Any
    u_fit: Any


@dataclass
class Evaluation:
    """What a scorer sees: the rows scored, their true sources (through the
    method's ``target``), the fitted model and its latents of those rows."""

    model: Any
    X: Any
    S: Any
    u: Any
    data: Data
    setting: dict
    args: Any
    latents: Any = None

    @cached_property
    def Z(self):
        return self.model.transform(self.X) if self.latents is None else self.latents


@dataclass(frozen=True)
class Method:
    """An estimator (or a baseline) and its scorers.

    Parameters
    ----------
    label : str
        What it is and how it is scored (the legend of the plot).
    scorers : dict
        Score column -> ``scorer(evaluation) -> float``, or the name of another
        column whose value it repeats (e.g. ``"mcc": "mcc_fastica"``).
    estimator : callable, optional
        ``estimator(setting, args)``: the unfitted estimator. Its latents are
        ``transform`` of the scored rows.
    latents : callable, optional
        For a baseline without an estimator: ``latents(X)``, timed as its fit.
    uses_u : bool
        Whether the estimator is fit with u.
    holdout : bool
        Fit on 80% of the rows (stratified by segment), score on the other 20%
        (a baseline computes its latents on those 20%).
    target : callable
        Applied to the true sources before scoring (``np.abs`` for TCL, which
        recovers the sufficient statistics |s|).
    """

    label: str
    scorers: dict
    estimator: Any = None
    latents: Any = None
    uses_u: bool = True
    holdout: bool = False
    target: Any = None

    def run(self, data, setting, args):
        X_fit, S_eval, u_fit = data.X, data.S, data.u
        X_eval, u_eval = data.X, data.u
        if self.holdout:
            X_fit, X_eval, _, S_eval, u_fit, u_eval = holdout_split(data.X, data.S, data.u)
        if self.target is not None:
            S_eval = self.target(S_eval)
        model, latents = None, None
        with Stopwatch() as clock:
            if self.estimator is not None:
                model = self.estimator(setting, args)
                model.fit(X_fit, u_fit if self.uses_u else None)
            else:
                latents = self.latents(X_eval)
        evaluation = Evaluation(model, X_eval, S_eval, u_eval, data, setting, args, latents)
        scores = {
            column: scorer(evaluation)
            for column, scorer in self.scorers.items()
            if not isinstance(scorer, str)
        }
        for column, scorer in self.scorers.items():
            if isinstance(scorer, str):
                scores[column] = scores[scorer]
        return Fit(scores, clock, model, X_fit, u_fit)


@dataclass(frozen=True)
class Suite:
    """A benchmark: a grid of settings x data seeds x methods.

    Parameters
    ----------
    name, description : str
        Its ``--suite`` name and what it measures (one line).
    make_data : callable
        ``make_data(setting, seed, args) -> Data``.
    settings : callable
        ``settings(args)``: the settings of the grid, as dicts of the
        ``setting_columns``, in the order the tables show them.
    setting_columns : list of str
        The columns that tell the settings apart.
    data_columns : list of str
        Those of the setting columns that change the data (the others change
        the estimator): one data set per (data columns, seed) is made.
    run_columns : list of str
        Options of the whole run recorded in every row and part of the key
        that resumes it (``args.<name>``, e.g. the points per segment).
    methods : dict
        Method name -> :class:`Method`.
    scores : list of str
        The score columns of the CSV.
    headlines : list of str
        The scores the tables summarize (median and min-max over seeds); the
        first one is plotted.
    full, quick : dict
        Default options of the full run and of ``--quick``: ``seeds``,
        ``methods``, ``max_epochs``, ``out`` (a file name under
        ``results/``) and the suite's own options (``options``).
    options : list of str
        The suite's own command-line options (the names of ``args``).
    plot : callable
        ``plot(summary, rows, suite, args, path) -> bool``.
    """

    name: str
    description: str
    make_data: Any
    settings: Any
    setting_columns: list
    data_columns: list
    run_columns: list
    methods: dict
    scores: list
    headlines: list
    full: dict
    quick: dict
    options: list = field(default_factory=list)
    plot: Any = plot_settings

    @property
    def key(self):
        return ["method", *self.setting_columns, "seed", *self.run_columns, "max_epochs"]

    @property
    def columns(self):
        timing = ["fit_s", "fit_cpu_s", "epochs", "epoch_s", "torch_epoch_s", "epoch_ratio"]
        return [*self.key, *self.scores, *timing, "error"]


# -------------------------------------------------------------------- scorers


def mcc_latent(e):
    """MCC of the latents themselves."""
    return mean_corr_coef(e.S, e.Z)


def mcc_fastica(e):
    """MCC of FastICA's unmixing of the latents."""
    return fastica_mcc(e.S, e.Z)


def inverse_r2(e):
    """R^2 of ``inverse_transform(transform(X))`` on the scored rows."""
    X_hat = e.model.inverse_transform(e.Z)
    return 1 - ((e.X - X_hat) ** 2).sum() / ((e.X - e.X.mean(axis=0)) ** 2).sum()


def c2st_auc(e):
    """Classifier two-sample AUC of ``sample()`` (with the same u) against real rows.

    On a random subset of ``--c2st-samples`` rows; 0.5 is indistinguishable.
    """
    n = min(e.args.c2st_samples, len(e.X))
    subset = np.random.RandomState(0).choice(len(e.X), n, replace=False)
    X_new, _ = e.model.sample(len(subset), y=e.u[subset], random_state=1)
    return classifier_two_sample_score(e.X[subset], X_new, random_state=0)


def affine_r2(e):
    """R^2 of the true latents from an affine map of the learned ones."""
    return affine_r2_score(e.S, e.Z)


def ari_predict(e):
    """Adjusted Rand index of ``predict`` against the true mixture components."""
    return adjusted_rand_score(e.data.extra["labels"], e.model.predict(e.X))


def c_ima(e):
    """IMA contrast of the learned decoder's Jacobians at the latents."""
    return ima_contrast(e.model.decoder_jacobian(e.Z))


def c_ima_true(e):
    """IMA contrast of the true mixing's Jacobians."""
    return ima_contrast(e.data.extra["jacobians"])


# Scored by FastICA on the latents (sources recovered up to a linear map), or by
# the latents themselves; both columns are always recorded.
WITH_FASTICA = {"mcc": "mcc_fastica", "mcc_latent": mcc_latent, "mcc_fastica": mcc_fastica}
LATENT = {"mcc": "mcc_latent", "mcc_latent": mcc_latent, "mcc_fastica": mcc_fastica}


def fastica_sources(X):
    return FastICA(random_state=0, max_iter=1000).fit_transform(X)


def fastica_abs_sources(X):
    return np.abs(fastica_sources(X))


FASTICA_SCORES = {"mcc": mcc_latent, "mcc_fastica": "mcc"}


# ------------------------------------------------------------------ estimators


def _epochs(args):
    return {} if args.max_epochs is None else {"max_epochs": args.max_epochs}


def ivae(setting, args):
    return IVAE(random_state=0, **_epochs(args))


def ivae_random_start(setting, args):
    return IVAE(init="random", random_state=0, **_epochs(args))


def ivae_fixed_decoder_var(setting, args):
    return IVAE(decoder_var=1e-3, random_state=0, **_epochs(args))


def ivae_n_init3(setting, args):
    return IVAE(n_init=3, random_state=0, **_epochs(args))


def vae(setting, args):
    return IVAE(prior="isotropic", random_state=0, **_epochs(args))


def ivaegan(setting, args):
    return IVAEGAN(random_state=0, **_epochs(args))


def flow(setting, args):
    return IdentifiableFlow(random_state=0, **_epochs(args))


def tcl(setting, args):
    return TCLNonlinearICA(random_state=0, **_epochs(args))


def mixture_vae(setting, args):
    return IVAE(
        prior="mixture",
        n_mixture_components=args.n_clusters,
        decoder_var=float(args.decoder_var),
        random_state=0,
        **_epochs(args),
    )


def mixture_baseline_vae(setting, args):
    return IVAE(
        prior="isotropic", decoder_var=float(args.decoder_var), random_state=0, **_epochs(args)
    )


def ima_vae(setting, args):
    # The IMA regime is that of the mean-field VAE: a full posterior covariance
    # removes the c_IMA term from the ELBO by design.
    return IVAE(
        prior="isotropic",
        posterior="diag",
        source_distribution=setting["prior"],
        decoder_var=float(setting["decoder_var"]),
        lr=float(args.lr),
        random_state=0,
        **_epochs(args),
    )


# ----------------------------------------------------------------------- data


def segment_data(**generator_options):
    """``make_nonlinear_ica`` data of 5 sources per (layers, segments) and seed."""

    def make(setting, seed, args):
        X, S, u = make_nonlinear_ica(
            n_sources=N_SOURCES,
            n_segments=setting.get("segments", 40),
            n_samples_per_segment=args.samples_per_segment,
            n_layers=setting["layers"],
            random_state=seed,
            **generator_options,
            **TCL_DATA_KINDS.get(setting.get("data"), {}),
        )
        return Data(X, S, u)

    return make


def mixture_data(setting, seed, args):
    X, Z, labels = make_mixture_latents(
        n_samples=args.n_samples,
        n_sources=args.n_sources,
        n_clusters=args.n_clusters,
        random_state=seed,
    )
    return Data(X, Z, None, {"labels": labels})


def mobius_data(setting, seed, args):
    X, S, J = make_mobius_ica(n_samples=args.n_samples, return_jacobians=True, random_state=seed)
    return Data(X, S, None, {"jacobians": J})


# The TCL suite's kinds of data: variance-modulated Laplace and Gaussian sources
# (the TCL paper's setting), and "easy": Gaussian sources of which one also has a
# strongly modulated mean, so that the segments are easy to classify from it
# alone (the failure of TCL that the iVAE paper shows).
TCL_DATA_KINDS = {
    "laplace": {"source_distribution": "laplace"},
    "gaussian": {"source_distribution": "gaussian"},
    "easy": {
        "source_distribution": "gaussian",
        "modulation": "mean_variance",
        "mean_modulated_sources": [0],
    },
}


# --------------------------------------------------------------------- suites


def depth_settings(args):
    """(layers, segments): the depth series, then the segment sweep, no repeats."""
    pairs = [(depth, args.main_segments) for depth in args.depths]
    pairs += [(args.sweep_depth, k) for k in args.segments]
    return [{"layers": layers, "segments": k} for layers, k in dict.fromkeys(pairs)]


def tcl_method(scorers):
    return Method(
        "TCL + FastICA (vs |s|, held out)", scorers, estimator=tcl, holdout=True, target=np.abs
    )


def fastica_method(label="FastICA on X"):
    return Method(label, {**FASTICA_SCORES, "mcc_latent": lambda e: NAN}, latents=fastica_sources)


# The other estimators and the linear baseline, as the depth and noise suites run them.
OTHER_ESTIMATORS = {
    "tcl": tcl_method(WITH_FASTICA),
    "flow": Method("IdentifiableFlow (latents)", LATENT, estimator=flow),
    "ivaegan": Method("IVAEGAN + FastICA", WITH_FASTICA, estimator=ivaegan),
    "vae": Method("VAE + FastICA", WITH_FASTICA, estimator=vae, uses_u=False),
    "fastica": fastica_method(),
}

DEPTH = Suite(
    name="depth",
    description="every estimator against the mixing depth and the number of segments",
    make_data=segment_data(),
    settings=depth_settings,
    setting_columns=["layers", "segments"],
    data_columns=["layers", "segments"],
    run_columns=["samples_per_segment"],
    methods={
        "ivae": Method("IVAE + FastICA", WITH_FASTICA, estimator=ivae),
        "ivae_random_start": Method(
            "IVAE(init='random') + FastICA", WITH_FASTICA, estimator=ivae_random_start
        ),
        "ivae_n_init3": Method("IVAE(n_init=3) + FastICA", WITH_FASTICA, estimator=ivae_n_init3),
        **OTHER_ESTIMATORS,
    },
    scores=["mcc", "mcc_latent", "mcc_fastica"],
    headlines=["mcc", "mcc_latent"],
    options=["depths", "segments", "main_segments", "sweep_depth", "samples_per_segment"],
    full={
        "seeds": [1, 2, 3],
        "methods": ["ivae", "ivae_random_start", "tcl", "flow", "ivaegan", "vae", "fastica"],
        "max_epochs": None,
        "out": "all.csv",
        "depths": [1, 2, 3, 4],
        "segments": [10, 40],
        "main_segments": 40,
        "sweep_depth": 2,
        "samples_per_segment": 1000,
    },
    quick={
        "seeds": [1],
        "depths": [1, 2],
        "samples_per_segment": 250,
        "max_epochs": 10,
        "out": "quick.csv",
    },
    plot=plot_depth,
)

TCL_SUITE = Suite(
    name="tcl",
    description="TCL on the TCL paper's data and on data too easy to classify, held out",
    make_data=segment_data(),
    settings=lambda args: [{"data": k, "layers": n} for k in args.kinds for n in args.depths],
    setting_columns=["data", "layers"],
    data_columns=["data", "layers"],
    run_columns=["samples_per_segment"],
    methods={
        "tcl": tcl_method({**WITH_FASTICA, "inverse_r2": inverse_r2}),
        "fastica": Method(
            "|FastICA(X)| (vs |s|, held out)",
            {**FASTICA_SCORES, "mcc_latent": lambda e: NAN},
            latents=fastica_abs_sources,
            holdout=True,
            target=np.abs,
        ),
        "ivae": Method("IVAE + FastICA (held out)", WITH_FASTICA, estimator=ivae, holdout=True),
    },
    scores=["mcc", "mcc_latent", "mcc_fastica", "inverse_r2"],
    headlines=["mcc", "inverse_r2"],
    options=["kinds", "depths", "samples_per_segment"],
    full={
        "seeds": [0, 1, 2, 3, 4],
        "methods": ["tcl", "fastica", "ivae"],
        "max_epochs": None,
        "out": "tcl.csv",
        "kinds": list(TCL_DATA_KINDS),
        "depths": [2, 3],
        "samples_per_segment": 1000,
    },
    quick={
        "seeds": [0],
        "depths": [2],
        "samples_per_segment": 250,
        "max_epochs": 10,
        "out": "tcl_quick.csv",
    },
)

FLOW = Suite(
    name="flow",
    description="the iFlow paper's setting: uncentred means and variances, xtanh mixing",
    make_data=segment_data(modulation="mean_variance", activation="xtanh"),
    settings=lambda args: [{"layers": n} for n in args.depths],
    setting_columns=["layers"],
    data_columns=["layers"],
    run_columns=["samples_per_segment"],
    methods={
        "flow": Method("IdentifiableFlow (latents)", LATENT, estimator=flow),
        # The sources share the segment's mean, so they are not marginally
        # independent: the latents themselves, as the iFlow paper scores iVAE.
        "ivae": Method("IVAE (latents)", LATENT, estimator=ivae),
        "fastica": fastica_method(),
    },
    scores=["mcc", "mcc_latent", "mcc_fastica"],
    headlines=["mcc"],
    options=["depths", "samples_per_segment"],
    full={
        "seeds": [1, 2, 3, 4, 5],
        "methods": ["flow", "ivae", "fastica"],
        "max_epochs": None,
        "out": "flow.csv",
        "depths": [2, 3],
        "samples_per_segment": 1000,
    },
    quick={
        "seeds": [1],
        "methods": ["flow", "fastica"],
        "depths": [2],
        "samples_per_segment": 250,
        "max_epochs": 10,
        "out": "flow_quick.csv",
    },
)

GAN_SCORES = {**WITH_FASTICA, "c2st_auc": c2st_auc}

GAN = Suite(
    name="gan",
    description="IVAEGAN against IVAE: sources (MCC) and samples (two-sample AUC)",
    make_data=segment_data(),
    settings=lambda args: [{"layers": n} for n in args.depths],
    setting_columns=["layers"],
    data_columns=["layers"],
    run_columns=["samples_per_segment", "c2st_samples"],
    methods={
        "ivae": Method("IVAE + FastICA", GAN_SCORES, estimator=ivae),
        "ivaegan": Method("IVAEGAN + FastICA", GAN_SCORES, estimator=ivaegan),
    },
    scores=["mcc", "mcc_latent", "mcc_fastica", "c2st_auc"],
    headlines=["mcc", "c2st_auc"],
    options=["depths", "samples_per_segment", "c2st_samples"],
    full={
        "seeds": [1, 2, 3],
        "methods": ["ivae", "ivaegan"],
        "max_epochs": None,
        "out": "gan.csv",
        "depths": [2],
        "samples_per_segment": 1000,
        "c2st_samples": 5000,
    },
    quick={
        "seeds": [1],
        "samples_per_segment": 250,
        "c2st_samples": 2000,
        "max_epochs": 10,
        "out": "gan_quick.csv",
    },
)

MIXTURE = Suite(
    name="mixture",
    description="the mixture-prior VAE (Kivva et al. 2022) on Gaussian-mixture latents, no u",
    make_data=mixture_data,
    settings=lambda args: [{}],
    setting_columns=[],
    data_columns=[],
    run_columns=["n_samples", "n_sources", "n_clusters", "decoder_var"],
    methods={
        "mixture": Method(
            "IVAE(prior='mixture')",
            {"r2": affine_r2, "ari": ari_predict},
            estimator=mixture_vae,
            uses_u=False,
        ),
        "vae": Method(
            "VAE (prior='isotropic')",
            {"r2": affine_r2},
            estimator=mixture_baseline_vae,
            uses_u=False,
        ),
        "raw_x": Method("X itself", {"r2": affine_r2}, latents=lambda X: X),
    },
    scores=["r2", "ari"],
    headlines=["r2", "ari"],
    options=["n_samples", "n_sources", "n_clusters", "decoder_var"],
    full={
        "seeds": [0, 1, 2, 3, 4],
        "methods": ["mixture", "vae", "raw_x"],
        "max_epochs": None,
        "out": "mixture.csv",
        "n_samples": 5000,
        "n_sources": 2,
        "n_clusters": 3,
        "decoder_var": 1e-3,
    },
    quick={"seeds": [0, 1], "n_samples": 2000, "max_epochs": 10, "out": "mixture_quick.csv"},
)

IMA = Suite(
    name="ima",
    description="a mean-field VAE in the IMA regime: MCC and c_IMA against the decoder variance",
    make_data=mobius_data,
    settings=lambda args: [
        {"prior": prior, "decoder_var": f"{var:g}"}
        for prior in args.priors
        for var in args.decoder_vars
    ],
    setting_columns=["prior", "decoder_var"],
    data_columns=[],
    run_columns=["n_samples", "lr"],
    methods={
        "vae": Method(
            "mean-field VAE",
            {"mcc": mcc_latent, "c_ima": c_ima, "c_ima_true": c_ima_true},
            estimator=ima_vae,
            uses_u=False,
        )
    },
    scores=["mcc", "c_ima", "c_ima_true"],
    headlines=["mcc", "c_ima"],
    options=["decoder_vars", "priors", "n_samples", "lr"],
    full={
        "seeds": [0, 1],
        "methods": ["vae"],
        "max_epochs": 30,
        "out": "ima.csv",
        "decoder_vars": [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 3.0, 10.0, 100.0],
        "priors": ["uniform", "gaussian"],
        "n_samples": 10000,
        "lr": 1e-3,
    },
    quick={
        "seeds": [0],
        "decoder_vars": [1e-4, 1e-2, 1.0],
        "priors": ["uniform"],
        "n_samples": 3000,
        "max_epochs": 10,
        "out": "ima_quick.csv",
    },
    plot=plot_ima,
)

NOISE = Suite(
    name="noise",
    description="every estimator under observation noise (sd 0.1) on the papers' slope-0.2 data",
    make_data=segment_data(slope=0.2, noise_std=0.1),
    settings=lambda args: [{"layers": n} for n in args.depths],
    setting_columns=["layers"],
    data_columns=["layers"],
    run_columns=["samples_per_segment"],
    methods={
        "ivae": Method("IVAE + FastICA", WITH_FASTICA, estimator=ivae),
        "ivae_fixed_decoder_var": Method(
            "IVAE(decoder_var=1e-3) + FastICA", WITH_FASTICA, estimator=ivae_fixed_decoder_var
        ),
        **OTHER_ESTIMATORS,
    },
    scores=["mcc", "mcc_latent", "mcc_fastica"],
    # The latents beside + FastICA: under noise FastICA can lower the latents' MCC.
    headlines=["mcc", "mcc_latent"],
    options=["depths", "samples_per_segment"],
    full={
        "seeds": [1, 2, 3, 4, 5],
        "methods": ["ivae", "flow", "tcl", "ivaegan", "vae", "fastica"],
        "max_epochs": None,
        "out": "noise.csv",
        "depths": [3],
        "samples_per_segment": 1000,
    },
    quick={
        "seeds": [1],
        "methods": ["ivae", "flow", "fastica"],
        "depths": [2],
        "samples_per_segment": 250,
        "max_epochs": 10,
        "out": "noise_quick.csv",
    },
)

# ------------------------------------------------------------------ wide data

# More features than sources: 5 sources observed through 10 and 20 features,
# noiseless and under noise of sd 0.1, on 30 segments of --samples-per-segment
# points (800 in the full run).
WIDE_FEATURES = (10, 20)
WIDE_NOISE_STDS = ("0", "0.1")
WIDE_SEGMENTS = 30
WIDE_SLOPE = 0.2


def wide_data(setting, seed, args):
    X, S, u = make_nonlinear_ica(
        n_sources=N_SOURCES,
        n_features=int(setting["features"]),
        n_segments=WIDE_SEGMENTS,
        n_samples_per_segment=args.samples_per_segment,
        n_layers=int(setting["layers"]),
        slope=WIDE_SLOPE,
        noise_std=float(setting["noise_std"]),
        random_state=seed,
    )
    return Data(X, S, u)


def wide_settings(args):
    return [
        {"features": d, "noise_std": noise, "layers": n}
        for n in args.depths
        for noise in WIDE_NOISE_STDS
        for d in WIDE_FEATURES
    ]


def wide_ivae(setting, args):
    return IVAE(n_components=N_SOURCES, random_state=0, **_epochs(args))


def wide_ivaegan(setting, args):
    return IVAEGAN(n_components=N_SOURCES, random_state=0, **_epochs(args))


def wide_vae(setting, args):
    return IVAE(n_components=N_SOURCES, prior="isotropic", random_state=0, **_epochs(args))


def wide_tcl(setting, args):
    return TCLNonlinearICA(n_components=N_SOURCES, random_state=0, **_epochs(args))


def flow_modulated_fastica(e):
    """MCC of FastICA's unmixing of the flow's n most modulated latents (n: the sources).

    The flow has one latent per feature; the sources are those whose prior
    variance varies most with u.
    """
    index = np.sort(e.model._latents_by_modulation()[0][: e.S.shape[1]])
    return fastica_mcc(e.S, e.Z[:, index])


def fastica_n_sources(X):
    """FastICA on X reduced to as many components as sources (by its whitening PCA)."""
    return FastICA(N_SOURCES, random_state=0, max_iter=1000).fit_transform(X)


WIDE = Suite(
    name="wide",
    description="every estimator with more features than sources (5 in 10 and 20), "
    "noiseless and under noise",
    make_data=wide_data,
    settings=wide_settings,
    setting_columns=["features", "noise_std", "layers"],
    data_columns=["features", "noise_std", "layers"],
    run_columns=["samples_per_segment"],
    methods={
        "ivae": Method("IVAE(n_components=5) + FastICA", WITH_FASTICA, estimator=wide_ivae),
        # Its headline: all its latents, each source matched to its best one;
        # mcc_fastica: FastICA on its 5 latents that u modulates most.
        "flow": Method(
            "IdentifiableFlow (best-matching latents)",
            {"mcc": "mcc_latent", "mcc_latent": mcc_latent, "mcc_fastica": flow_modulated_fastica},
            estimator=flow,
        ),
        "tcl": Method(
            "TCL(n_components=5) + FastICA (vs |s|, held out)",
            WITH_FASTICA,
            estimator=wide_tcl,
            holdout=True,
            target=np.abs,
        ),
        "ivaegan": Method(
            "IVAEGAN(n_components=5) + FastICA", WITH_FASTICA, estimator=wide_ivaegan
        ),
        "vae": Method(
            "VAE(n_components=5) + FastICA", WITH_FASTICA, estimator=wide_vae, uses_u=False
        ),
        "fastica": Method(
            "FastICA(n_components=5) on X",
            {**FASTICA_SCORES, "mcc_latent": lambda e: NAN},
            latents=fastica_n_sources,
        ),
    },
    scores=["mcc", "mcc_latent", "mcc_fastica"],
    headlines=["mcc", "mcc_latent"],
    options=["depths", "samples_per_segment"],
    full={
        "seeds": [1, 2, 3, 4, 5],
        "methods": ["ivae", "flow", "tcl", "ivaegan", "vae", "fastica"],
        "max_epochs": None,
        "out": "wide.csv",
        "depths": [3],
        "samples_per_segment": 800,
    },
    quick={
        "seeds": [1],
        "methods": ["ivae", "flow", "fastica"],
        "samples_per_segment": 100,
        "max_epochs": 5,
        "out": "wide_quick.csv",
    },
)

SUITES = {suite.name: suite for suite in (DEPTH, TCL_SUITE, FLOW, GAN, MIXTURE, IMA, NOISE, WIDE)}
