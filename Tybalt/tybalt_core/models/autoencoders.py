"""The models: the Tybalt variational autoencoder (VAE), the denoising autoencoder (ADAGE) and a plain autoencoder.

Each builder returns an ``Autoencoder``: the model that ``fit`` trains, and its encoder (expression ->
encodings) and decoder (encodings -> expression) as separate Keras models sharing the trained weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tybalt_core.models.backend import keras, scaled_loss, tf, unscaled_gradients

# Under mixed precision (keras_backend.dtype_policy) the layers compute in float16, except the layers giving the
# models' outputs: the reconstruction (so the loss is taken on float32 sigmoid values and stays finite) and the VAE's
# latent mean and log-variance (so the KL term and the encodings are float32). Under float32 this changes nothing.
OUTPUT_DTYPE = "float32"


@dataclass
class Autoencoder:
    """A trainable model with its encoder and decoder halves."""

    model: keras.Model
    encoder: keras.Model
    decoder: keras.Model


def build_autoencoder(model_type: str, n_genes: int, latent_dim: int, *, depth: int = 0, hidden_dim: int = 300,
                      loss: str = "binary_crossentropy", noise: float = 0.05, sparsity: float = 0.0,
                      tied_weights: bool = False, activation: str = "tanh") -> Autoencoder:
    """Build the model named by ``model_type`` ('vae', 'adage' or 'ae') for ``n_genes`` inputs."""
    if model_type == "ae":
        return build_plain_autoencoder(n_genes, latent_dim, depth=depth, hidden_dim=hidden_dim, activation=activation)
    if model_type == "vae":
        return build_vae(n_genes, latent_dim, depth=depth, hidden_dim=hidden_dim, loss=loss)
    if model_type == "adage":
        return build_adage(n_genes, latent_dim, noise=noise, sparsity=sparsity, tied_weights=tied_weights)
    raise ValueError(f"unknown model_type {model_type!r}")


def build_vae(n_genes: int, latent_dim: int, *, depth: int = 0, hidden_dim: int = 300,
              loss: str = "binary_crossentropy") -> Autoencoder:
    """Tybalt VAE: Dense+BatchNorm+ReLU branches for the latent mean and log-variance, sigmoid decoder."""
    expression = keras.Input(shape=(n_genes,), name="expression")
    hidden = _dense_batchnorm_relu(expression, hidden_dim, "encoder_hidden") if depth else expression
    z_mean = _dense_batchnorm_relu(hidden, latent_dim, "z_mean")
    z_log_var = _dense_batchnorm_relu(hidden, latent_dim, "z_log_var")
    encoder = keras.Model(expression, [z_mean, z_log_var], name="vae_encoder")

    latent = keras.Input(shape=(latent_dim,), name="encodings")
    decoded = keras.layers.Dense(hidden_dim, activation="relu", name="decoder_hidden")(latent) if depth else latent
    reconstruction = keras.layers.Dense(n_genes, activation="sigmoid", name="reconstruction",
                                        dtype=OUTPUT_DTYPE)(decoded)
    decoder = keras.Model(latent, reconstruction, name="decoder")

    vae = TybaltVAE(encoder, decoder, reconstruction_loss=loss, name="tybalt_vae")
    return Autoencoder(vae, keras.Model(expression, z_mean, name="encoder"), decoder)


def build_adage(n_genes: int, latent_dim: int, *, noise: float = 0.05, sparsity: float = 0.0,
                tied_weights: bool = False) -> Autoencoder:
    """ADAGE: input dropout (denoising), a ReLU encoding layer with optional L1 sparsity, sigmoid decoder."""
    expression = keras.Input(shape=(n_genes,), name="expression")
    corrupted = keras.layers.Dropout(noise, name="input_noise")(expression)
    regularizer = keras.regularizers.L1(sparsity) if sparsity > 0 else None
    # The L1 penalty joins the float32 loss: under mixed precision Keras 3 cannot add it in float16.
    encoding_layer = keras.layers.Dense(latent_dim, activation="relu", activity_regularizer=regularizer,
                                        name="encodings", dtype=OUTPUT_DTYPE if regularizer else None)
    encoder = keras.Model(expression, encoding_layer(corrupted), name="encoder")

    latent = keras.Input(shape=(latent_dim,), name="encodings")
    if tied_weights:
        decoding_layer = TiedDense(encoding_layer, name="reconstruction", dtype=OUTPUT_DTYPE)
    else:
        decoding_layer = keras.layers.Dense(n_genes, activation="sigmoid", name="reconstruction", dtype=OUTPUT_DTYPE)
    decoder = keras.Model(latent, decoding_layer(latent), name="decoder")

    adage = keras.Model(expression, decoder(encoder(expression)), name="adage")
    return Autoencoder(adage, encoder, decoder)


def build_plain_autoencoder(n_genes: int, latent_dim: int, *, depth: int = 0, hidden_dim: int = 300,
                            activation: str = "tanh") -> Autoencoder:
    """Plain autoencoder: ``depth`` hidden layers each side of a linear code, mirrored in the decoder.

    With activation 'linear' every layer is linear, the output too, so trained with MSE it finds the PCA
    subspace; otherwise the output is sigmoid, for expression values in [0, 1].
    """
    expression = keras.Input(shape=(n_genes,), name="expression")
    encoded = _hidden_stack(expression, depth, hidden_dim, activation, "encoder_hidden")
    encoder = keras.Model(expression, keras.layers.Dense(latent_dim, name="encodings")(encoded), name="encoder")

    latent = keras.Input(shape=(latent_dim,), name="encodings")
    decoded = _hidden_stack(latent, depth, hidden_dim, activation, "decoder_hidden")
    output_activation = "linear" if activation == "linear" else "sigmoid"
    reconstruction = keras.layers.Dense(n_genes, activation=output_activation, name="reconstruction",
                                        dtype=OUTPUT_DTYPE)(decoded)
    decoder = keras.Model(latent, reconstruction, name="decoder")

    autoencoder = keras.Model(expression, decoder(encoder(expression)), name="autoencoder")
    return Autoencoder(autoencoder, encoder, decoder)


def exportable_decoder(decoder: keras.Model) -> keras.Model:
    """The decoder with tied weights copied into a plain Dense layer, so it saves and loads without this module."""
    tied = [layer for layer in decoder.layers if isinstance(layer, TiedDense)]
    if not tied:
        return decoder
    kernel, bias = tied[0].tied_to.kernel.numpy(), tied[0].bias.numpy()
    latent = keras.Input(shape=(kernel.shape[1],), name="encodings")
    dense = keras.layers.Dense(kernel.shape[0], activation="sigmoid", name="reconstruction")
    plain = keras.Model(latent, dense(latent), name="decoder")
    dense.set_weights([kernel.T, bias])
    return plain


def apply_in_batches(model: keras.Model, values: np.ndarray | tf.Tensor, batch_size: int = 2048) -> np.ndarray:
    """Run a trained model on every row in inference mode, a batch at a time.

    Calls the model directly: for one pass over the data this is ~5x faster than ``predict``, which first
    builds and traces a prediction function (0.7 s vs 0.1 s for 10,459 x 5,000 through the encoder).
    """
    batches = [np.asarray(model(values[start:start + batch_size], training=False), dtype=np.float32)
               for start in range(0, len(values), batch_size)]
    return np.concatenate(batches) if batches else np.zeros((0, model.output_shape[-1]), dtype=np.float32)


def _hidden_stack(inputs, depth: int, units: int, activation: str, name: str):
    """``depth`` Dense layers of ``units`` with ``activation``, named name_1, name_2, ..."""
    for layer in range(1, depth + 1):
        inputs = keras.layers.Dense(units, activation=activation, name=f"{name}_{layer}")(inputs)
    return inputs


def _dense_batchnorm_relu(inputs, units: int, name: str):
    """Dense -> BatchNormalization -> ReLU, the building block of the Tybalt encoder; its output is float32."""
    dense = keras.layers.Dense(units, name=f"{name}_dense")(inputs)
    normalized = keras.layers.BatchNormalization(name=f"{name}_batchnorm")(dense)
    return keras.layers.Activation("relu", name=name, dtype=OUTPUT_DTYPE)(normalized)


class TiedDense(keras.layers.Layer):
    """Sigmoid decoder layer that reuses the transposed kernel of an encoder Dense layer (ADAGE tied weights)."""

    def __init__(self, tied_to, **kwargs):
        super().__init__(**kwargs)
        self.tied_to = tied_to

    def build(self, input_shape) -> None:
        n_outputs = self.tied_to.kernel.shape[0]
        self.bias = self.add_weight(name="bias", shape=(n_outputs,), initializer="zeros", trainable=True)
        super().build(input_shape)

    def call(self, encodings):
        return tf.sigmoid(tf.matmul(encodings, self.tied_to.kernel, transpose_b=True) + self.bias)


class TybaltVAE(keras.Model):
    """Trains encoder and decoder on reconstruction + beta * KL; a callback sets beta (the KL warm-up)."""

    def __init__(self, encoder: keras.Model, decoder: keras.Model, reconstruction_loss: str = "binary_crossentropy",
                 **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.reconstruction_loss = reconstruction_loss
        self.beta = self.add_weight(name="beta", shape=(), initializer="zeros", trainable=False)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_tracker = keras.metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker]

    def call(self, expression, training=False):
        """Reconstruct from the latent mean (the deterministic path used for prediction)."""
        z_mean, _ = self.encoder(expression, training=training)
        return self.decoder(z_mean, training=training)

    def vae_losses(self, expression, training: bool) -> dict:
        """Per-batch losses: n_genes x mean reconstruction error, KL to N(0, I), and their beta-weighted sum."""
        z_mean, z_log_var = self.encoder(expression, training=training)
        # Reparameterisation trick: sample z as a differentiable function of mean and log-variance.
        z = z_mean + tf.exp(0.5 * z_log_var) * tf.random.normal(tf.shape(z_mean))
        reconstructed = self.decoder(z, training=training)
        per_gene_error = (keras.losses.binary_crossentropy if self.reconstruction_loss == "binary_crossentropy"
                          else keras.losses.mean_squared_error)(expression, reconstructed)
        n_genes = tf.cast(tf.shape(expression)[1], per_gene_error.dtype)
        reconstruction = tf.reduce_mean(n_genes * per_gene_error)
        kl = tf.reduce_mean(-0.5 * tf.reduce_sum(1 + z_log_var - tf.square(z_mean) - tf.exp(z_log_var), axis=1))
        return {"loss": reconstruction + self.beta * kl, "reconstruction_loss": reconstruction, "kl_loss": kl}

    def train_step(self, data):
        expression = data[0] if isinstance(data, tuple) else data
        with tf.GradientTape() as tape:
            losses = self.vae_losses(expression, training=True)
            loss = scaled_loss(self.optimizer, losses["loss"])  # unchanged unless in mixed precision
        gradients = unscaled_gradients(self.optimizer, tape.gradient(loss, self.trainable_weights))
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        return self._track(losses)

    def test_step(self, data):
        expression = data[0] if isinstance(data, tuple) else data
        return self._track(self.vae_losses(expression, training=False))

    def _track(self, losses: dict) -> dict:
        self.loss_tracker.update_state(losses["loss"])
        self.reconstruction_tracker.update_state(losses["reconstruction_loss"])
        self.kl_tracker.update_state(losses["kl_loss"])
        return {metric.name: metric.result() for metric in self.metrics}
