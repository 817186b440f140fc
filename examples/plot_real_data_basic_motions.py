"""
=====================================================================
Real data: motion sensors, consistency and what the auxiliary buys
=====================================================================

BasicMotions (from the UEA archive, shipped inside the `aeon
<https://www.aeon-toolkit.org>`_ wheel) holds 80 ten-second recordings of a
smartwatch's accelerometer and gyroscope (3 axes each, 10 Hz) while a person
stood, walked, ran or played badminton: 20 recordings of each activity, 40
of them in the archive's training part and 40 in its test part.

There are no true sources here, so MCC cannot be computed. What we can
measure instead:

0. **How many components?** The held-out likelihood of IVAE for each
   candidate number (:func:`~sklearn_ivae.model_selection.select_n_components`).
1. **Consistency**: do restarts of a model find the same latents, and by how
   much more than restarts on structureless data of the same shape
   (:func:`~sklearn_ivae.model_selection.fit_consistency`)?
2. **What u buys**: do latents learned *without* the activity labels carry
   the activity of recordings never seen in fit? Here the auxiliary variable
   u is the recording index, a segment label that needs no annotation: the
   signal's statistics change from one recording to the next, which is the
   nonstationarity that IVAE and TCL exploit. The activity is used only to
   evaluate.
3. **Held-out u**: with the activity itself as u, the conditional prior of
   an IVAE is a generative classifier: which activity makes a new recording
   most likely?

Each row of ``X`` is one time step (6 channels); the models see the rows
independently, and the time order enters only through u. Small networks and
few epochs keep this to about a minute on one CPU thread.
"""

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
from aeon.datasets import load_basic_motions
from sklearn.decomposition import FastICA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from sklearn_ivae import IVAE, TCLNonlinearICA
from sklearn_ivae.model_selection import fit_consistency, select_n_components

warnings.filterwarnings("ignore", category=ConvergenceWarning)


def time_steps(split):
    """Rows = time steps: (n_recordings * 100, 6), with activity and recording per row."""
    series, activity = load_basic_motions(split=split)
    n_recordings, n_channels, n_steps = series.shape
    X = series.transpose(0, 2, 1).reshape(-1, n_channels)
    return X, np.repeat(activity, n_steps), np.repeat(np.arange(n_recordings), n_steps)


X, activity, recording = time_steps("train")
X_test, activity_test, recording_test = time_steps("test")
print(f"fit on {X.shape[0]} time steps x {X.shape[1]} channels from 40 recordings")

# %%
# 0. Choosing the number of components
# ------------------------------------
# Sensor data is noisy in every channel, so the VAEs learn the observation
# noise's variance (``decoder_var='learn'``) rather than assume a nearly
# deterministic decoder. Each candidate is fitted on two thirds of every
# recording and scored on the rest; the selected number is the elbow of the
# held-out log-likelihood.


def vae(prior, n_components=None):
    return IVAE(
        n_components,
        prior=prior,
        decoder_var="learn",
        hidden_layer_sizes=(32, 32),
        max_epochs=20,
    )


selection = select_n_components(
    vae("conditional"),
    X,
    recording,
    candidates=range(1, 7),
    cv=StratifiedKFold(3, shuffle=True, random_state=0),
    random_state=0,
)
n_components = selection.n_components
print(selection)

# %%
# The models
# ----------
# All get ``n_components`` latents. The identifiable models get the
# recording index as u; the baselines get nothing. IVAE and the plain VAE are
# followed by FastICA, which resolves the linear indeterminacy left by the
# IVAE (and, for the VAE, tries to). TCL's features are the sources'
# sufficient statistics (e.g. ``|s|``) up to a linear map, also followed by
# FastICA.


def ica(n_components=None):
    return FastICA(n_components, max_iter=2000, tol=1e-3)


models = {
    "FastICA": (ica(n_components), False),
    "plain VAE + FastICA": (make_pipeline(vae("isotropic", n_components), ica()), False),
    "IVAE + FastICA": (make_pipeline(vae("conditional", n_components), ica()), True),
    "TCL + FastICA": (
        make_pipeline(TCLNonlinearICA(n_components, max_epochs=20), ica()),
        True,
    ),
}

# %%
# 1. Consistency across restarts, against chance
# -----------------------------------------------
# Three restarts of each model on the same rows, compared pairwise up to a
# permutation (with signs and scales) of the latents; the chance level is the
# same procedure on Gaussian noise of the same shape, with u shuffled.
consistency = {
    name: fit_consistency(
        model, X, recording if uses_u else None, n_fits=3, random_state=0, return_estimator=True
    )
    for name, (model, uses_u) in models.items()
}
for name, result in consistency.items():
    print(
        f"{name:22s} consistency {result.mean:.3f}   chance {result.chance_mean:.3f}   "
        f"adjusted {result.adjusted_mean:+.2f}"
    )

# %%
# 2. Decoding the activity of held-out recordings
# ------------------------------------------------
# A logistic regression on each time step's latents and their squares (the
# sufficient statistics of a variance-modulated source) is trained on the
# 40 fitted recordings and tested on the 40 others; every model was fitted
# without the activity. Per recording, the time steps vote.


def decoding_accuracy(model):
    features = FunctionTransformer(lambda Z: np.hstack([Z, Z**2]))
    decoder = make_pipeline(features, StandardScaler(), LogisticRegression(max_iter=2000))
    decoder.fit(model.transform(X), activity)
    predicted = decoder.predict(model.transform(X_test))
    votes = [
        max(set(labels), key=list(labels).count)
        for labels in (predicted[recording_test == r] for r in np.unique(recording_test))
    ]
    truth = [activity_test[recording_test == r][0] for r in np.unique(recording_test)]
    return np.mean(predicted == activity_test), np.mean(np.equal(votes, truth))


accuracy = {name: decoding_accuracy(result.estimators[0]) for name, result in consistency.items()}
for name, (per_step, per_recording) in accuracy.items():
    print(f"{name:22s} per time step {per_step:.3f}   per recording {per_recording:.3f}")

# %%
# 3. The activity as u: classifying held-out recordings by likelihood
# -------------------------------------------------------------------
# Fitted with the activity as u, IVAE's ``score_samples(X, u)`` is a bound on
# log p(x | u). Summed over a recording's time steps, the activity with the
# highest likelihood is the prediction: a generative classifier that the
# plain VAE and FastICA, which have no u, cannot provide.
ivae_activity = vae("conditional", n_components).set_params(random_state=0).fit(X, activity)
log_likelihood = np.column_stack(
    [ivae_activity.score_samples(X_test, np.repeat(a, len(X_test))) for a in ivae_activity.classes_]
)
per_recording = np.array([log_likelihood[recording_test == r].sum(0) for r in range(40)])
truth = np.array([activity_test[recording_test == r][0] for r in range(40)])
predicted = ivae_activity.classes_[per_recording.argmax(axis=1)]
print(f"IVAE(u=activity), held-out recordings classified right: {np.mean(predicted == truth):.3f}")

# %%
# Pictures
# --------
# The held-out score against the number of components; consistency against
# chance, and the held-out decoding accuracy; then the IVAE + FastICA latents
# of one held-out recording per activity.
names = list(models)
fig, (ax_selection, ax_consistency, ax_decoding) = plt.subplots(
    1, 3, figsize=(13, 3.5), layout="constrained"
)
ax_selection.errorbar(
    selection.candidates, selection.mean_scores, yerr=selection.sem_scores, marker="o"
)
ax_selection.axvline(n_components, color="gray", linestyle=":", label="selected")
ax_selection.set_xlabel("n_components")
ax_selection.set_ylabel("held-out log-likelihood bound (nats)")
ax_selection.legend()
positions = np.arange(len(names))
ax_consistency.bar(positions - 0.2, [consistency[n].mean for n in names], 0.4, label="restarts")
ax_consistency.bar(
    positions + 0.2, [consistency[n].chance_mean for n in names], 0.4, label="chance"
)
ax_consistency.set_ylabel("consistency (permutation)")
ax_consistency.set_ylim(0, 1.05)
ax_consistency.legend(loc="lower right")
ax_decoding.bar(positions - 0.2, [accuracy[n][0] for n in names], 0.4, label="per time step")
ax_decoding.bar(positions + 0.2, [accuracy[n][1] for n in names], 0.4, label="per recording")
ax_decoding.axhline(0.25, color="gray", linestyle=":", label="chance (4 activities)")
ax_decoding.set_ylabel("held-out activity accuracy")
ax_decoding.set_ylim(0, 1.05)
ax_decoding.legend(loc="lower right", fontsize=8)
for ax in (ax_consistency, ax_decoding):
    ax.set_xticks(positions, [n.replace(" + ", "\n+ ") for n in names], fontsize=8)
plt.show()

ivae_ica = consistency["IVAE + FastICA"].estimators[0]
fig, axes = plt.subplots(1, 4, figsize=(12, 3), sharey=True, layout="constrained")
for ax, name in zip(axes, np.unique(activity_test), strict=True):
    first = recording_test[activity_test == name][0]
    Z = ivae_ica.transform(X_test[recording_test == first])
    ax.plot(np.arange(len(Z)) / 10, Z + 6 * np.arange(Z.shape[1]), linewidth=0.8)
    ax.set_title(name)
    ax.set_xlabel("time (s)")
axes[0].set_ylabel("latent (offset per component)")
plt.show()

# %%
# Reading the numbers
# -------------------
# When this example was written (the printed values above are this build's),
# the held-out likelihood rose with every component up to 5 and not beyond.
# At 5 components, IVAE + FastICA restarts agreed at 0.945 against a chance
# level of 0.647 (0.85 of the way from chance to perfect agreement); the
# plain VAE's restarts at 0.749 against 0.673 (0.23): without u, each restart
# lands on a different latent space, as identifiability theory predicts.
# FastICA alone agreed with itself as much on the data as on noise (0.91 and
# 0.92): linear ICA barely depends on its seed, so its consistency says
# nothing here. TCL's restarts agreed little (0.49 against 0.23) at these
# short settings.
#
# The latents of every model carry the activity of held-out recordings (all
# recordings right by vote, 77-87% of single time steps, TCL's features
# best); decoding is a weak test of identifiability, since any invertible
# representation keeps the information. With the activity as u, IVAE's
# conditional prior classified 85% of the held-out recordings by likelihood
# alone, with no separate classifier.
