"""IVAEGAN: the identifiable VAE with an adversarial term (iVAE-GAN)."""

from numbers import Real

from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import _check_hidden_layer_sizes, store_init_params
from ._docstrings import fill_docstring
from ._training import AdversarialNet
from .ivae import IVAE
from .nn.discriminator import DiscriminatorNet
from .nn.mlp import ACTIVATIONS

__all__ = ["Discriminator", "IVAEGAN"]


class Discriminator(BaseEstimator):
    """Settings of the discriminator network of :class:`IVAEGAN` and its optimizer.

    A plain parameter holder, so that the discriminator's settings are nested
    parameters of the estimator: ``IVAEGAN(discriminator=Discriminator())``
    exposes ``discriminator__lr``, ``discriminator__hidden_layer_sizes``, ...
    to ``set_params`` and ``GridSearchCV``.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(64, 64)
        Hidden widths of the discriminator MLP.
    activation : {'leaky_relu', 'relu', 'tanh', 'elu', 'gelu', 'maxout'}, \
            default='leaky_relu'
        Hidden activation.
    lr : float, default=1e-3
        Learning rate of the discriminator's Adam optimizer.
    betas : tuple of float, default=(0.5, 0.999)
        Adam's betas; a low first beta is the usual choice for GANs.

    Examples
    --------
    >>> from sklearn_ivae import IVAEGAN
    >>> from sklearn_ivae.gan import Discriminator
    >>> model = IVAEGAN(discriminator=Discriminator(lr=2e-4))
    >>> model.set_params(discriminator__hidden_layer_sizes=(32,)).discriminator
    Discriminator(hidden_layer_sizes=(32,), lr=0.0002)
    """

    def __init__(
        self, hidden_layer_sizes=(64, 64), activation="leaky_relu", lr=1e-3, betas=(0.5, 0.999)
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.lr = lr
        self.betas = betas

    def _net_params(self):
        """The skorch keyword arguments of the discriminator and its optimizer."""
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"Discriminator activation must be one of {sorted(ACTIVATIONS)}, "
                f"got {self.activation!r}."
            )
        if not self.lr > 0:
            raise ValueError(f"Discriminator lr must be positive, got {self.lr!r}.")
        return {
            "discriminator__hidden_layer_sizes": _check_hidden_layer_sizes(self.hidden_layer_sizes),
            "discriminator__activation": self.activation,
            "optimizer_discriminator__lr": self.lr,
            "optimizer_discriminator__betas": tuple(self.betas),
        }


@fill_docstring
class IVAEGAN(IVAE):
    """Identifiable VAE-GAN: the iVAE trained with an added adversarial loss.

    The model is the :class:`IVAE` (encoder q(z|x), decoder f, conditional
    factorial prior p(z|u)), and the identifiability argument is unchanged. A
    discriminator network learns to tell real X from the decoder's
    reconstructions f(z), z ~ q(z|x), and from samples f(z), z ~ p(z|u); the
    encoder and decoder minimize ``-bound + adversarial_weight * G`` (the
    bound of ``n_importance_samples`` draws, as in :class:`IVAE`), G the
    non-saturating generator loss, in alternating steps with the
    discriminator (Dideriksen, Derosche & Tan 2022). The adversarial term
    pushes :meth:`sample` towards data that the discriminator cannot tell
    from real data.

    Both losses are logged per epoch in ``net_.history``
    (``adversarial_loss``, ``discriminator_loss``).

    Parameters
    ----------
    n_components : int, default=None
        Number of latent sources, at most n_features. None means n_features.
    adversarial_weight : float, default=1.0
        Weight of the adversarial loss against the negative bound; 0 is
        :class:`IVAE`. With a learned noise variance (the default after a
        flow start) the bound is flat, and a larger weight pulls the encoder
        away from the sources under observation noise, while after that
        start the adversarial term barely moves the samples. For samples
        closer to the data, start at random (``init='random'``,
        ``decoder_var=1e-3``): the bound is then large and steep, and a
        weight of about 100 brings the samples closest to the data (see
        :ref:`gan`).
    discriminator : Discriminator, default=None
        Settings of the discriminator and its optimizer; None means
        ``Discriminator()``. Tune them as ``discriminator__lr`` etc.
    prior : {'conditional'}, default='conditional'
        The conditional prior p(z|u) (u is required).
    source_distribution : {'gaussian', 'laplace'}, default='gaussian'
        Family of the factorial prior.
    prior_mean : bool, default=True
        Whether u modulates the prior means as well as the variances.
    observation : {'gaussian'}, default='gaussian'
        Observation model: Gaussian only (see Notes).
    decoder_var : float, 'learn' or 'auto', default='auto'
        Variance of the Gaussian observation noise on standardized data;
        ``'auto'`` learns it after a start from a flow and is 1e-3 otherwise
        (see :class:`IVAE`).
    posterior : {'full', 'diag', 'flow'}, default='full'
        Family of the posterior q(z|x) (see :class:`IVAE`).
    n_importance_samples : int or 'auto', default='auto'
        Number of posterior draws of the bound (see :class:`IVAE`): 1 is the
        ELBO, K > 1 the importance-weighted bound; ``'auto'`` is 4.
    init : {'auto', 'random', 'flow', 'flow_encoder'}, default='auto'
        Where training starts, as in :class:`IVAE`: ``'auto'`` starts from an
        :class:`~sklearn_ivae.IdentifiableFlow`'s latents wherever that is
        possible, which recovers the sources of deep mixings better.
        ``'random'`` gives samples closer to the data on shallow mixings:
        choose it when the samples matter more than the sources (see
        :ref:`gan`).
    hidden_layer_sizes : tuple of int, default=(64, 64)
        Hidden widths of the encoder, the decoder and (for continuous u) the
        prior network.
    activation : {'leaky_relu', 'relu', 'tanh', 'elu', 'gelu', 'maxout'}, \
            default='leaky_relu'
        Hidden activation.
    max_epochs : int or 'auto', default='auto'
        Number of passes over the data; ``'auto'`` as in :class:`IVAE` (a
        short stage after a flow start, 50 epochs from a random start, and
        fewer beyond 40,000 training rows).
    batch_size : int, default=64
        Mini-batch size.
    lr : float or 'auto', default='auto'
        Peak learning rate of the encoder/decoder/prior optimizer (Adam),
        with :class:`IVAE`'s one-cycle schedule; the discriminator's learning
        rate is constant. ``'auto'`` as in :class:`IVAE`: 5e-3, or 1e-3 with
        the flow inside the encoder.
    {training_parameters}

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is the iVAE and
        ``net_.discriminator_`` the discriminator.
    n_components_ : int
        Number of latent sources.
    {resolved_attributes}
    noise_variance_ : ndarray of shape (n_features,)
        Variance of the observation noise per feature, in X's units (see
        :class:`IVAE`).
    {fitted_attributes}

    See Also
    --------
    IVAE : The same model without the adversarial term.
    sklearn_ivae.metrics.classifier_two_sample_score : A sample-quality figure.

    Notes
    -----
    Only Gaussian observations are supported: a discriminator tells binary
    data from Bernoulli probabilities trivially.

    References
    ----------
    S. Dideriksen, V. Derosche and Z.-H. Tan. "iVAE-GAN: Identifiable VAE-GAN
    models for latent representation learning". IEEE Access 10, 2022.

    Examples
    --------
    >>> from sklearn_ivae import IVAEGAN
    >>> from sklearn_ivae.datasets import make_nonlinear_ica
    >>> X, S, u = make_nonlinear_ica(n_sources=2, n_segments=10,
    ...                              n_samples_per_segment=100, n_layers=2,
    ...                              random_state=0)
    >>> model = IVAEGAN(max_epochs=3, random_state=0).fit(X, u)
    >>> model.transform(X).shape
    (1000, 2)
    >>> X_new, Z_new = model.sample(5, y=0, random_state=0)
    >>> X_new.shape
    (5, 2)
    >>> sorted(key for key in model.net_.history[-1] if key.endswith("_loss"))
    ['adversarial_loss', 'discriminator_loss', 'train_loss']
    """

    # IVAE's constraints, less those of the options IVAEGAN does not take
    # (the mixture prior's).
    _parameter_constraints: dict = {
        **{
            key: value
            for key, value in IVAE._parameter_constraints.items()
            if key != "n_mixture_components"
        },
        "adversarial_weight": [Interval(Real, 0, None, closed="left")],
        "discriminator": [Discriminator, None],
        "prior": [StrOptions({"conditional"})],
        "observation": [StrOptions({"gaussian"})],
    }

    def __init__(
        self,
        n_components=None,
        *,
        adversarial_weight=1.0,
        discriminator=None,
        prior="conditional",
        source_distribution="gaussian",
        prior_mean=True,
        observation="gaussian",
        decoder_var="auto",
        posterior="full",
        n_importance_samples="auto",
        init="auto",
        hidden_layer_sizes=(64, 64),
        activation="leaky_relu",
        max_epochs="auto",
        batch_size=64,
        lr="auto",
        aux_type="auto",
        device="cpu",
        n_threads=1,
        random_state=None,
        n_init=1,
        warm_start=False,
        early_stopping=False,
        verbose=0,
        callbacks=None,
    ):
        store_init_params(self, locals())

    _net_class = AdversarialNet

    def _net_params(self):
        discriminator = self.discriminator if self.discriminator is not None else Discriminator()
        return {
            **super()._net_params(),
            **discriminator._net_params(),
            "discriminator": DiscriminatorNet,
            "discriminator__n_features": self.n_features_in_,
            "optimizer_discriminator__foreach": True,
            "adversarial_weight": self.adversarial_weight,
        }
