"""Model architectures: the Tybalt VAE at depth 0 and 1, ADAGE with and without tied weights."""

import numpy as np

from tybalt_core.models.autoencoders import build_autoencoder, exportable_decoder
from tybalt_core.models.backend import keras


def dense_units(model):
    return [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def test_depth_0_vae_maps_genes_straight_to_mean_and_log_variance_branches():
    vae = build_autoencoder("vae", 50, 4)
    outputs = vae.model.encoder(np.zeros((3, 50), np.float32))
    assert [tuple(o.shape) for o in outputs] == [(3, 4), (3, 4)]
    assert dense_units(vae.encoder) == [4]
    assert dense_units(vae.decoder) == [50]
    assert vae.decoder.layers[-1].get_config()["activation"] == "sigmoid"


def test_depth_1_vae_has_a_hidden_layer_mirrored_in_the_decoder():
    vae = build_autoencoder("vae", 5000, 100, depth=1, hidden_dim=300)
    assert dense_units(vae.encoder) == [300, 100]
    assert dense_units(vae.decoder) == [300, 5000]
    assert sum(isinstance(layer, keras.layers.BatchNormalization) for layer in vae.model.encoder.layers) == 3


def test_vae_encoder_returns_the_latent_mean():
    vae = build_autoencoder("vae", 20, 3)
    x = np.random.default_rng(0).random((5, 20)).astype(np.float32)
    mean, _ = vae.model.encoder(x, training=False)
    np.testing.assert_allclose(vae.encoder.predict(x, verbose=0), np.asarray(mean), rtol=1e-5)


def test_tied_adage_decoder_uses_the_transposed_encoder_kernel():
    adage = build_autoencoder("adage", 30, 5, tied_weights=True, noise=0.0)
    encoder_kernel = adage.encoder.get_layer("encodings").kernel.numpy()
    exported = exportable_decoder(adage.decoder)
    np.testing.assert_array_equal(exported.layers[-1].kernel.numpy(), encoder_kernel.T)
    z = np.random.default_rng(1).random((4, 5)).astype(np.float32)
    np.testing.assert_allclose(exported.predict(z, verbose=0), adage.decoder.predict(z, verbose=0), rtol=1e-5)
    assert len(adage.model.trainable_weights) == 3  # encoder kernel + bias, decoder bias only


def test_untied_adage_has_its_own_decoder_kernel():
    adage = build_autoencoder("adage", 30, 5, tied_weights=False)
    assert len(adage.model.trainable_weights) == 4
    assert exportable_decoder(adage.decoder) is adage.decoder
