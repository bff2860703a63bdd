"""What the Generate tab calls (synth.gan.generate), without Gradio."""

import numpy as np
import pytest

from synth import data
from synth.gan import generate


def test_galleries_are_the_seeded_samples_enlarged():
    shown = generate.sample_gallery("dcgan", 2, 5)
    raw = generate.sample("dcgan", 2, 5)
    assert len(shown) == 2 and shown[0].dtype == np.uint8
    assert np.array_equal(shown[0], raw[0, ..., 0])  # 64 px is already large enough: shown as drawn
    strip = generate.walk_gallery("gan", 1, 2, 3, "slerp")
    assert len(strip) == 3 and strip[0].shape == (112, 112)
    one = generate.sample("gan", 1, 1)[0, ..., 0]
    assert np.array_equal(strip[0][::4, ::4], one) and np.array_equal(strip[0][3::4, 3::4], one)  # 4x4 blocks


def test_unknown_or_hidden_model_is_a_clear_error():
    for name in ("vae", "dcgan_scenes"):
        with pytest.raises(ValueError, match=rf"Unknown model '{name}'. Choose one of: .*dcgan"):
            generate.sample_gallery(name, 1, 0)
    assert [name for _, name in generate.choices()] == generate.available()


def test_architecture_table_counts_the_parameters():
    df, info = generate.architecture_table("dcgan")
    assert list(df.columns) == ["layer", "type", "output", "params"]
    assert df["output"].iloc[-1] == "1 x 64 x 64"
    total = sum(p.numel() for p in generate.load_generator("dcgan").parameters())
    assert f"{total:,} parameters" in info
    assert generate.training_curves("dcgan").endswith("losses.png")


def test_grid_lays_out_rows_with_padding():
    images = np.full((10, 4, 4, 1), 255, np.uint8)
    g = generate.grid(images, nrow=8, pad=2)
    assert g.shape == (2 * 6 + 2, 8 * 6 + 2)
    assert g[2:6, 2:6].min() == 255 and g[0].max() == 0  # an image, then the black border


def test_real_digits_show_every_class_in_its_own_column():
    ds = data.load("digits", "train")
    picks = generate.training_digit_picks(3)
    labels = ds.labels[picks].reshape(3, 10)
    assert (labels == np.arange(10)).all()                  # row r: the r-th 0, 1, ..., 9
    assert len(set(picks.tolist())) == 30
    shown = generate.training_digits(3)
    assert shown.shape == (3 * 30 + 2, 10 * 30 + 2)
    assert np.array_equal(shown[2:30, 2 + 30 * 7:30 + 30 * 7], ds.images[picks[7], ..., 0])   # the first 7
    with pytest.raises(ValueError, match="per_class must be at most"):
        generate.training_digit_picks(10 ** 6)


def test_captions_name_the_model_that_drew_the_images():
    assert generate.sample_caption("gan", 16, 0).startswith(generate.GENERATORS["gan"].title)
    assert generate.sample_caption("dcgan", 4, 7) == f"{generate.GENERATORS['dcgan'].title}: 4 samples, seed 7"
    assert "slerp walk from seed 1 to seed 2 in 8 steps" in generate.walk_caption("gan", 1, 2, 8, "slerp")


def test_stray_pixels_are_counted_and_the_gan_note_says_they_are_the_models():
    speck = np.zeros((2, 28, 28, 1), np.uint8)
    speck[0, 0, 0] = speck[0, 10, 27] = 200                 # two isolated bright pixels
    speck[1, 5:9, 5:9] = 255                                 # a stroke: no stray pixel
    assert generate.stray_pixels(speck) == 1.0
    # the GAN's raw 28 x 28 output carries the speckle, real digits do not; the display only repeats pixels
    raw = generate.sample("gan", 64, 0)
    real = data.load("digits", "train").images[generate.training_digit_picks(6)]
    assert generate.stray_pixels(raw) > 1 > 10 * generate.stray_pixels(real)
    shown = generate.sample_gallery("gan", 64, 0)
    assert all(np.array_equal(s[::4, ::4], r[..., 0]) for s, r in zip(shown, raw))
    assert "in the model's own output" in generate.model_note("gan")
    assert "in the model's own output" not in generate.model_note("dcgan")
