"""The named endpoints /generate and /interpolate, called as gradio_client users call them."""

import numpy as np
import pytest
from gradio_client import Client
from PIL import Image

from tests.conftest import AppProcess


@pytest.fixture(scope="module")
def client(request):
    app = AppProcess()
    request.addfinalizer(app.stop)
    return Client(app.url, verbose=False)


def pixels(result) -> list[np.ndarray]:
    return [np.asarray(Image.open(item["image"])) for item in result]


def test_generate_is_seeded(client):
    a = pixels(client.predict(model="dcgan", n=3, seed=5, api_name="/generate"))
    b = pixels(client.predict(model="dcgan", n=3, seed=5, api_name="/generate"))
    c = pixels(client.predict(model="dcgan", n=3, seed=6, api_name="/generate"))
    assert len(a) == 3 and all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])
    g = pixels(client.predict(model="gan", n=2, seed=0, api_name="/generate"))
    assert len(g) == 2


def test_interpolate_ends_are_the_seeds_images(client):
    strip = pixels(client.predict(model="dcgan", seed_a=1, seed_b=2, steps=4, api_name="/interpolate"))
    assert len(strip) == 4
    one = pixels(client.predict(model="dcgan", n=1, seed=1, api_name="/generate"))[0]
    assert np.array_equal(strip[0], one)


@pytest.mark.parametrize("kwargs, message", [
    (dict(model="vae", n=2, seed=0), "vae is not in the list of choices"),
    (dict(model="dcgan", n=2, seed=1.5), "seed must be an integer"),
    (dict(model="dcgan", n=2, seed=-1), "seed must be in"),
])
def test_bad_input_is_a_clear_error(client, kwargs, message):
    with pytest.raises(Exception, match=message):
        client.predict(**kwargs, api_name="/generate")
    assert len(client.predict(model="dcgan", n=1, seed=0, api_name="/generate")) == 1  # still serving


def test_n_out_of_range_is_refused(client):
    with pytest.raises(Exception):
        client.predict(model="dcgan", n=65, seed=0, api_name="/generate")
