"""
==================================================================
Real data: speakers' vowels, choosing n_components, decoding u
==================================================================

JapaneseVowels (from the UCI / UEA archives, shipped inside the `aeon
<https://www.aeon-toolkit.org>`_ wheel): nine male speakers each uttered the
Japanese vowels /ae/ several times; every utterance is 7-29 frames of 12
LPC cepstrum coefficients. 270 utterances form the archive's training part,
370 its test part.

Each frame is a row of ``X`` and the speaker is the auxiliary variable u: a
speaker changes the distribution of the frames (vocal tract, pitch), the kind
of modulation under which :class:`~sklearn_ivae.IVAE` is identifiable. With
no true sources to compare with, we

1. choose the number of components by held-out likelihood
   (:func:`~sklearn_ivae.model_selection.select_n_components`);
2. check that restarts agree, against the chance level of structureless data
   (:func:`~sklearn_ivae.model_selection.fit_consistency`);
3. decode u on held-out utterances: IVAE's conditional prior is a generative
   classifier of the speaker, compared with a logistic regression on the
   latents of each model.

About a minute and a half on one CPU thread.
"""

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
from aeon.datasets import load_japanese_vowels
from sklearn.decomposition import FastICA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_ivae import IVAE
from sklearn_ivae.displays import LatentDisplay
from sklearn_ivae.model_selection import fit_consistency, select_n_components

warnings.filterwarnings("ignore", category=ConvergenceWarning)


def frames(split):
    """Rows = frames (n_frames, 12), with the speaker and the utterance of each."""
    utterances, speakers = load_japanese_vowels(split=split)
    X = np.vstack([utterance.T for utterance in utterances])
    lengths = [utterance.shape[1] for utterance in utterances]
    utterance_of_row = np.repeat(np.arange(len(utterances)), lengths)
    return X, speakers[utterance_of_row], utterance_of_row


X, speaker, _ = frames("train")
X_test, speaker_test, utterance_test = frames("test")
print(f"fit on {X.shape[0]} frames x {X.shape[1]} coefficients; test {X_test.shape[0]} frames")

# %%
# 1. How many components?
# -----------------------
# Each candidate is fitted on two thirds of every speaker's frames and scored
# on the rest. The noise variance of the observations is learned: LPC
# coefficients are measured, not noise-free. The selected number is the
# elbow of the held-out score: where more latents stop paying.


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
    speaker,
    candidates=[1, 2, 4, 6, 8, 10, 12],
    cv=StratifiedKFold(3, shuffle=True, random_state=0),
    random_state=0,
)
n_components = selection.n_components
print(selection)

# %%
# 2. Consistency of restarts at that size, against chance
# --------------------------------------------------------
ica = FastICA(n_components, max_iter=2000, tol=1e-3)
models = {
    "FastICA": (ica, None),
    "plain VAE + FastICA": (make_pipeline(vae("isotropic", n_components), FastICA()), None),
    "IVAE + FastICA": (make_pipeline(vae("conditional", n_components), FastICA()), speaker),
}
results = {
    name: fit_consistency(model, X, u, n_fits=3, random_state=0, return_estimator=True)
    for name, (model, u) in models.items()
}
for name, result in results.items():
    print(
        f"{name:22s} consistency {result.mean:.3f}   chance {result.chance_mean:.3f}   "
        f"adjusted {result.adjusted_mean:+.2f}"
    )

# %%
# 3. Who is speaking? Held-out utterances
# ----------------------------------------
# For every model, a logistic regression on the frames' latents, trained on
# the fitted utterances; an utterance's speaker is the one with the highest
# summed log-probability over its frames. IVAE needs no separate classifier:
# ``score_samples(X, u)`` bounds log p(x | speaker), and the speaker with the
# highest likelihood of the utterance is the prediction.
utterances = np.unique(utterance_test)
true_speaker = np.array([speaker_test[utterance_test == k][0] for k in utterances])


def utterance_accuracy(log_probabilities, classes):
    """Accuracy of the speaker with the highest summed log-probability per utterance."""
    summed = np.array([log_probabilities[utterance_test == k].sum(0) for k in utterances])
    return np.mean(classes[summed.argmax(axis=1)] == true_speaker)


accuracy = {}
for name, result in results.items():
    model = result.estimators[0]
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
    classifier.fit(model.transform(X), speaker)
    log_proba = classifier.predict_log_proba(model.transform(X_test))
    accuracy[f"{name}\n+ logistic"] = utterance_accuracy(log_proba, classifier.classes_)

ivae = vae("conditional", n_components).set_params(random_state=0).fit(X, speaker)
log_likelihood = np.column_stack(
    [ivae.score_samples(X_test, np.repeat(s, len(X_test))) for s in ivae.classes_]
)
accuracy["IVAE likelihood\n(no classifier)"] = utterance_accuracy(log_likelihood, ivae.classes_)
for name, value in accuracy.items():
    print(f"{name.replace(chr(10), ' '):40s} {value:.3f}")

# %%
# Pictures
# --------
fig, axes = plt.subplots(1, 3, figsize=(14, 3.8), layout="constrained")
axes[0].errorbar(selection.candidates, selection.mean_scores, yerr=selection.sem_scores, marker="o")
axes[0].axvline(n_components, color="gray", linestyle=":", label="selected")
axes[0].set_xlabel("n_components")
axes[0].set_ylabel("held-out log-likelihood bound (nats)")
axes[0].legend()

names = list(results)
positions = np.arange(len(names))
axes[1].bar(positions - 0.2, [results[n].mean for n in names], 0.4, label="restarts")
axes[1].bar(positions + 0.2, [results[n].chance_mean for n in names], 0.4, label="chance")
axes[1].set_xticks(positions, [n.replace(" + ", "\n+ ") for n in names], fontsize=8)
axes[1].set_ylabel("consistency (permutation)")
axes[1].set_ylim(0, 1.05)
axes[1].legend(loc="lower right")

axes[2].barh(list(accuracy), list(accuracy.values()))
axes[2].axvline(1 / 9, color="gray", linestyle=":", label="chance (9 speakers)")
axes[2].set_xlabel("held-out utterances: speaker right")
axes[2].set_xlim(0, 1)
axes[2].tick_params(axis="y", labelsize=8)
axes[2].legend(loc="lower right", fontsize=8)
plt.show()

# %%
# The IVAE + FastICA latents of the test frames, two at a time, coloured by
# speaker: the conditional prior gives each speaker its own location and
# scale per component.
Z = results["IVAE + FastICA"].estimators[0].transform(X_test)
pairs = [(i, i + 1) for i in range(0, n_components - 1, 2)][:3]
fig, axes = plt.subplots(1, len(pairs), figsize=(4 * len(pairs), 3.8), layout="constrained")
for k, (ax, pair) in enumerate(zip(np.atleast_1d(axes), pairs, strict=True)):
    display = LatentDisplay.from_latents(Z, speaker_test, components=pair, ax=ax)
    if k < len(pairs) - 1:
        display.legend_.remove()  # one legend of the speakers is enough
plt.show()

# %%
# Reading the numbers
# -------------------
# When this example was written (the printed values above are this build's),
# the held-out score rose steeply up to 6 components and by less than half a
# nat beyond, so 6 were selected. FastICA alone agreed with itself almost
# perfectly (0.999, chance 0.72): on LPC coefficients the linear sources are
# stable. IVAE + FastICA restarts agreed at 0.71 against a chance level of
# 0.35 (0.56 of the way from chance to perfect agreement); the plain VAE's at
# 0.69 against 0.55 (0.31). At these short settings the nonlinear models are
# far from the agreement that identifiability allows; more epochs or
# ``n_init`` are where to start on one's own data.
#
# The speaker of 95% of the held-out utterances was the one under whose prior
# the IVAE found the utterance most likely, a little better than a logistic
# regression on any model's latents (90.5-94.6%), and with no classifier trained.
