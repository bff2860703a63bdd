import numpy as np
import pytest
import torch

from synth import data


def test_digit_splits_are_disjoint_and_stratified():
    train, held = data.load("digits", "train"), data.load("digits", "heldout")
    assert train.images.shape == (4000, 28, 28, 1) and held.images.shape == (1000, 28, 28, 1)
    assert train.images.dtype == np.uint8
    assert not data.fingerprints(train.images) & data.fingerprints(held.images)
    assert np.bincount(held.labels).tolist() == [100] * 10
    assert np.bincount(train.labels).tolist() == [400] * 10


def test_classifier_splits_partition_heldout():
    from synth.gan.classifier import classifier_splits

    fit, ref = classifier_splits()
    assert len(fit) == 700 and len(ref) == 300 and not set(fit) & set(ref)
    labels = data.load("digits", "heldout").labels
    assert np.bincount(labels[ref]).tolist() == [30] * 10


def test_tensor_round_trip():
    imgs = np.random.default_rng(0).integers(0, 256, (3, 8, 8, 1), dtype=np.uint8)
    x = data.to_tensor(imgs)
    assert x.shape == (3, 1, 8, 8) and x.min() >= -1 and x.max() <= 1
    assert np.array_equal(data.to_uint8(x), imgs)
    assert data.to_tensor(imgs, 16).shape == (3, 1, 16, 16)


def test_load_names_missing_split(tmp_path):
    data.save(np.zeros((2, 4, 4, 1), np.uint8), np.array([1, 2]), "toy", "train", root=tmp_path)
    assert data.load("toy", "train", root=tmp_path).images.shape == (2, 4, 4, 1)
    with pytest.raises(FileNotFoundError, match=r"no split 'test'.*available: \['train'\]"):
        data.load("toy", "test", root=tmp_path)


def test_imageset_validates():
    with pytest.raises(ValueError, match="uint8"):
        data.ImageSet(np.zeros((2, 4, 4, 1), np.float32), np.zeros(2, np.int64))
    with pytest.raises(ValueError, match="3 labels for 2 images"):
        data.ImageSet(np.zeros((2, 4, 4, 1), np.uint8), np.zeros(3, np.int64))


def test_training_crop_pool_is_seeded_and_never_opens_a_heldout_photo(monkeypatch):
    import numpy as np

    from synth import data

    opened = []
    real_read = data.read_photo
    monkeypatch.setattr(data, "read_photo", lambda rel, *a, **k: opened.append(rel) or real_read(rel, *a, **k))
    a = data.training_crop_pool(60, size=32, seed=3)
    heldout = {rel for _, rel, s in data.PHOTO_SOURCES if s == "heldout"}
    assert opened and not heldout & set(opened)
    assert a.dtype == np.uint8 and a.shape[1:] == (32, 32, 3) and 55 <= len(a) <= 80
    assert np.array_equal(a, data.training_crop_pool(60, size=32, seed=3))
    assert not np.array_equal(a[:10], data.training_crop_pool(60, size=32, seed=4)[:10])


def test_unbundled_training_crops_are_rebuilt_byte_for_byte(tmp_path):
    import shutil

    shutil.copytree(data.DATA_ROOT / "photos", tmp_path / "photos", ignore=shutil.ignore_patterns("train.npz"))
    assert not (tmp_path / "photos" / "train.npz").exists()
    rebuilt = data.load("photos", "train", root=tmp_path)
    here = data.load("photos", "train")
    assert np.array_equal(rebuilt.images, here.images) and np.array_equal(rebuilt.labels, here.labels)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos"]     # nothing else written
