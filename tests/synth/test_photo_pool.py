from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from synth import photo_pool as pp


@pytest.fixture(scope="module")
def rows():
    return pp.manifest()


def test_manifest_well_formed(rows):
    assert set(rows[0]) == set(pp.FIELDS)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))
    for r in rows:
        assert r["split"] in {"train", "heldout"}
        assert r["licence"] in pp.ALLOWED_LICENCES and "GFDL" not in r["licence"].upper()
        assert (pp.POOL_ROOT / r["file"]).is_file() and r["file"] == f"{r['split']}/{r['id']}.jpg"
        assert r["id"].isascii() and r["package"] and r["package_version"] and r["source_path"]
        assert not r["source_path"].startswith("/")  # a path inside the package, not on a machine
        assert min(r["orig_w"], r["orig_h"]) >= pp.MIN_SHORT
        assert max(r["w"], r["h"]) <= (pp.HELD_LONG if r["split"] == "heldout" else pp.TRAIN_LONG)
    held, train = pp.manifest("heldout"), pp.manifest("train")
    assert len(held) >= 40 and len(train) >= 200 and len(held) + len(train) == len(rows)
    assert len({r["package"] for r in held}) >= 4  # varied sources


def test_heldout_originals_are_big(rows):
    for r in pp.manifest("heldout"):
        assert max(r["orig_w"], r["orig_h"]) >= 640 and min(r["orig_w"], r["orig_h"]) >= 480
        assert max(r["w"], r["h"]) >= 640


def test_pool_fits_size_budget():
    total = sum(f.stat().st_size for f in pp.POOL_ROOT.rglob("*") if f.is_file())
    assert total <= 9 * 2**20


def test_groups_never_straddle_splits(rows):
    splits = defaultdict(set)
    for r in rows:
        splits[r["group"]].add(r["split"])
    assert all(len(s) == 1 for s in splits.values())
    # scene families the build must have grouped
    group = {Path(r["source_path"]).name: r["group"] for r in rows if r["package"] != "gcompris-qt-data"}
    assert group["motorcycle_left.png"] == group["motorcycle_right.png"]
    assert group["train-tracks1.jpg"] == group["train-tracks2.jpg"]


def test_no_near_duplicate_across_splits(rows):
    hashes = {r["id"]: pp.phash(pp.load_photo(r["id"])) for r in rows}
    held = [r["id"] for r in rows if r["split"] == "heldout"]
    train = [r["id"] for r in rows if r["split"] == "train"]
    closest = min(bin(hashes[a] ^ hashes[b]).count("1") for a in held for b in train)
    assert closest > pp.HASH_BITS_MAX


def test_phash_catches_a_resized_recompressed_copy():
    image = pp.load_photo(pp.manifest("heldout")[0]["id"])
    small = pp.resize_long(image, 200)
    assert bin(pp.phash(image) ^ pp.phash(small)).count("1") <= 4


def test_load_photo_is_rgb_uint8_and_cached(rows):
    r = rows[0]
    a = pp.load_photo(r["id"])
    assert a.dtype == np.uint8 and a.shape == (r["h"], r["w"], 3)
    assert pp.load_photo(r["id"]) is a
    with pytest.raises(KeyError):
        pp.load_photo("no_such_photo")


def test_crop_pool_seeded_and_shaped():
    crops, index = pp.crop_pool(300, 48, seed=3)
    assert crops.shape == (300, 48, 48, 3) and crops.dtype == np.uint8
    assert index.dtype == np.int64 and index.min() >= 0 and index.max() < len(pp.manifest("train"))
    again, index2 = pp.crop_pool(300, 48, seed=3)
    assert np.array_equal(crops, again) and np.array_equal(index, index2)
    other, _ = pp.crop_pool(300, 48, seed=4)
    assert not np.array_equal(crops, other)
    assert crops.std() > 20  # real content, not a flat fill
    with pytest.raises(ValueError):
        pp.crop_pool(10, 32, min_frac=0.0)


def test_crop_counts_follow_sqrt_area():
    _, index = pp.crop_pool(2000, 16, seed=0)
    rows = pp.manifest("train")
    weight = np.sqrt([r["w"] * r["h"] for r in rows])
    expected = 2000 * weight / weight.sum()
    assert np.abs(np.bincount(index, minlength=len(rows)) - expected).max() < 1


def test_train_pool_never_opens_heldout_files(monkeypatch):
    opened = []
    real = pp._read
    monkeypatch.setattr(pp, "_read", lambda path: opened.append(Path(path)) or real(path))
    pp._load.cache_clear()
    pp.crop_pool(100, 32, seed=1)
    pp.photos("train")
    assert opened and all(p.parent.name == "train" for p in opened)
    held_files = {pp.POOL_ROOT / r["file"] for r in pp.manifest("heldout")}
    assert not held_files & set(opened)
    pp._load.cache_clear()


def test_heldout_crops_come_from_heldout_photos():
    crops, index = pp.heldout_crops(60, 64, seed=0)
    assert crops.shape == (60, 64, 64, 3) and index.max() < len(pp.manifest("heldout"))
    assert np.array_equal(crops, pp.heldout_crops(60, 64, seed=0)[0])


def test_old_heldout_photos_stay_out_of_the_pool(rows):
    from synth.data import PHOTO_SOURCES, read_photo

    old_held = [read_photo(rel) for _, rel, split in PHOTO_SOURCES if split == "heldout"]
    pool = [pp.phash(pp.load_photo(r["id"])) for r in rows]
    for image in old_held:
        h = pp.phash(image)
        assert min(bin(h ^ p).count("1") for p in pool) > pp.HASH_BITS_MAX


def test_rcc_reader_and_licence_parsing():
    import struct
    import zlib

    # a minimal version-1 rcc: root dir with one zlib-compressed file "a.txt"
    name = "a.txt".encode("utf-16-be")
    names = struct.pack(">HI", 5, 0) + name
    payload = b"hello" * 10
    comp = struct.pack(">I", len(payload)) + zlib.compress(payload)
    data = struct.pack(">I", len(comp)) + comp
    tree = struct.pack(">IHII", 0, 2, 1, 1) + struct.pack(">IHHHI", 0, 1, 0, 0, 0)
    header_len = 20
    buf = b"qres" + struct.pack(">IIII", 1, header_len, header_len + len(tree),
                                header_len + len(tree) + len(data)) + tree + data + names
    assert list(pp.rcc_entries(buf)) == [("a.txt", payload)]
    assert pp.normalise_licence("CC-BY-SA 4.0") == "CC-BY-SA-4.0"
    assert pp.normalise_licence("Public Domain") == "PD"
    assert pp.normalise_licence("GPLv3 or later") == "GPL-3.0-or-later"
    assert pp.normalise_licence("GFDL-1.2") is None and pp.normalise_licence("unknown") is None
