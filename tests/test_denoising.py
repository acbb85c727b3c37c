"""Notebook 04: shared-weight shallow AE, the diabolo shape check, noise statistics, smoke run."""

import torch

from helpers.compression import compression_row, quantise_8bit
from helpers.models.denoising import ConvDenoiser, layer_summary, shallow_models
from helpers.noise import corrupt_2d, gaussian_noise, noise_gain, parabola_samples, per_image_mse


def test_encoder_decoder_autoencoder_share_weights():
    encoder, decoder, autoencoder = shallow_models(16)
    x = torch.rand(5, 1, 28, 28)
    assert encoder(x).shape == (5, 16)
    assert torch.allclose(autoencoder(x), decoder(encoder(x)))
    with torch.no_grad():
        encoder.hidden.weight.add_(1.0)
    assert autoencoder.encoder.hidden.weight is encoder.hidden.weight
    assert torch.allclose(autoencoder(x), decoder(encoder(x)))


def test_conv_denoiser_is_a_diabolo():
    rows = layer_summary(ConvDenoiser())
    assert rows[-1][1] == (1, 28, 28)
    code = [r for r in rows if r[0].startswith("encoder")][-1][1]
    assert code == (128, 7, 7) and 128 * 7 * 7 > 28 * 28  # the encoder output does not compress


def test_gaussian_noise_statistics_and_clipping():
    x = torch.full((200_000,), 0.5)
    eps = gaussian_noise(x, 0.3, clip=False, generator=torch.Generator().manual_seed(0)) - x
    assert abs(eps.mean().item()) < 0.005 and abs(eps.std().item() - 0.3) < 0.005
    clipped = gaussian_noise(x, 0.3)
    assert clipped.min() >= 0 and clipped.max() <= 1


def test_corruption_2d_keeps_shape_and_noise_level():
    clean = parabola_samples(5000)
    assert torch.allclose(clean[:, 1], clean[:, 0] ** 2)
    noisy = corrupt_2d(clean, 0.2)
    assert noisy.shape == clean.shape and abs((noisy - clean).std().item() - 0.2) < 0.01


def test_compression_row_bytes_and_quantisation():
    codes = torch.rand(10, 8)
    assert (quantise_8bit(codes) - codes).abs().max() <= 1 / 255
    row = compression_row(8, torch.rand(10, 1, 28, 28), codes, lambda z: torch.rand(len(z), 784))
    assert row["raw_bytes"] == 784 and row["ratio_f32"] == 784 / 32 and row["ratio_u8"] == 98


def test_noise_gain_is_one_for_the_identity_and_zero_for_anything_computed_from_the_clean_image():
    clean = (torch.rand(20, 1, 28, 28) > 0.8).float()  # digit-like: mostly 0, some 1 (clipping biases the noise)
    noisy_a = gaussian_noise(clean, 0.3, generator=torch.Generator().manual_seed(1))
    noisy_b = gaussian_noise(clean, 0.3, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(noise_gain(noisy_a, noisy_b, noisy_a, noisy_b), torch.ones(20))
    grey = clean.clamp(min=0.12)  # the clean digit on a grey background: ignores the noise draw
    blur = torch.nn.functional.avg_pool2d(clean, 3, 1, 1)
    for output in (grey, blur):
        assert torch.allclose(noise_gain(output, output, noisy_a, noisy_b), torch.zeros(20), atol=1e-6)
    half = 0.5 * noisy_a + 0.5 * blur, 0.5 * noisy_b + 0.5 * blur
    assert torch.allclose(noise_gain(*half, noisy_a, noisy_b), torch.full((20,), 0.5))

    def excess(output):  # the measure it replaces: MSE to the noisy input minus MSE to the clean digit
        return (per_image_mse(noisy_a, output) - per_image_mse(clean, output)).mean()

    assert excess(grey) < excess(clean)  # a grey background looked like following the (clipped, +mean) noise


def test_per_image_mse_by_hand():
    reference, estimate = torch.zeros(2, 1, 2, 2), torch.tensor([[[[1.0, 0], [0, 0]]], [[[1, 1], [1, 1]]]])
    assert per_image_mse(reference, estimate).tolist() == [0.25, 1.0]
