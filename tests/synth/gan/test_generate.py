"""What the Generate tab calls (synth.gan.generate), without Gradio."""

import numpy as np
import pytest

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
    assert generate.training_digits(32).shape == (4 * 30 + 2, 8 * 30 + 2)
