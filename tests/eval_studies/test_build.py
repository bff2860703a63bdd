import io
import json
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from eval_studies.build import (DEMO_HOLE, broken, build_demo, build_from_folder, encode_png, exported_fills,
                                load_heldout, opencv_methods)
from eval_studies.study_file import load_study
from synth.inpaint.masks import central
from synth.metrics import fill_defects

ROOT = Path(__file__).resolve().parents[2]
HEX_NAME = re.compile(r"^[0-9a-f]{32}\.png$")


def chunks(data: bytes) -> list[str]:
    out, pos = [], 8
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        out.append(kind.decode("ascii"))
        pos += 12 + n
    return out


def check_stimuli(folder: Path, size: int, forbidden: list[str]) -> list[Path]:
    files = sorted((folder / "stimuli").iterdir())
    for f in files:
        assert HEX_NAME.match(f.name), f.name
        assert not any(w.lower() in f.name.lower() for w in forbidden)
        data = f.read_bytes()
        assert set(chunks(data)) == {"IHDR", "IDAT", "IEND"}, (f.name, chunks(data))
        with Image.open(f) as im:
            assert (im.size, im.mode) == ((size, size), "RGB") and not im.info
        for w in forbidden:
            assert w.encode() not in data
    return files


def test_demo_command_builds_a_clean_study(tmp_path):
    out = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "eval_studies.build", "--demo", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "study written to" in proc.stdout
    study = load_study(out)
    assert study.tasks == ("pairwise", "real_fake") and study.natural_condition == "natural"
    assert {"natural", "telea", "navier_stokes"} <= set(study.conditions)
    assert study.completion_code and study.catch_trials == 4 and study.practice_trials == 2
    # the project's own hole fillers join through synth.inpaint's registry, in a subprocess
    assert "synth.export_stimuli gave" in proc.stdout
    assert "context-encoder_L2_adv" in study.conditions
    assert set(study.pairs) == {("context-encoder_L2_adv", c) for c in study.conditions
                                if c != "context-encoder_L2_adv"}
    files = check_stimuli(out, 256, forbidden=list(study.conditions) + ["natural", "catch"])
    n_cond = len(study.conditions)
    assert len(files) == n_cond * len(study.items) + 2 * len(study.catch_pool)
    assert (out / ".rater_key").stat().st_size == 32

    # the natural stimulus is the held-out photo itself, only resized; a filled one differs only
    # around the hole (Lanczos spreads the difference a few pixels at 4x)
    dataset, photos = load_heldout()
    item = study.items[0]
    idx = int(item.rsplit("-", 1)[1])
    photo = photos[idx]
    expected = np.asarray(Image.fromarray(photo).resize((256, 256), Image.Resampling.LANCZOS))
    got = np.asarray(Image.open(out / "stimuli" / study.conditions["natural"][item]))
    np.testing.assert_array_equal(got, expected)
    telea = np.asarray(Image.open(out / "stimuli" / study.conditions["telea"][item])).astype(int)
    diff = np.abs(telea - got).max(axis=2) > 0
    scale = 256 // photo.shape[0]
    hole = np.kron(central(*photo.shape[:2], frac=DEMO_HOLE["frac"]), np.ones((scale, scale), bool))
    near = np.zeros_like(hole)
    ys, xs = np.nonzero(hole)
    near[max(ys.min() - 3 * scale, 0):ys.max() + 3 * scale, max(xs.min() - 3 * scale, 0):xs.max() + 3 * scale] = True
    assert diff[hole].mean() > 0.5 and not diff[~near].any()

    # 4. the pictures: no condition's fill is flat where the photo is not, or off-colour against the ring around
    #    the hole, on any item (a 40% hole, which the Context Encoder was not trained for, failed this on 17 of
    #    30 items: grey squares; the demo uses its 50% hole)
    defects = {}
    for cond, stimuli in study.conditions.items():
        if cond == study.natural_condition:
            continue        # the photo itself: a photo's centre may differ from its surroundings
        for item, name in stimuli.items():
            fill = np.asarray(Image.open(out / "stimuli" / name).convert("RGB"))
            original = np.asarray(Image.open(out / "stimuli" / study.conditions["natural"][item]).convert("RGB"))
            found = [k for k, bad in fill_defects(fill, original, hole).items() if bad]
            if found:
                defects[(cond, item)] = found
    assert defects == {}

    # refusing to overwrite a study: the existing folder is left as it was
    again = subprocess.run([sys.executable, "-m", "eval_studies.build", "--demo", "--out", str(out)],
                           cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode != 0 and "exists and is not empty" in again.stderr
    assert load_study(out) == study


def write(path: Path, arr: np.ndarray, fmt: str, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, fmt, **kw)


def test_from_folder_strips_metadata_and_unifies_size(tmp_path):
    rng = np.random.default_rng(1)
    src = tmp_path / "src"
    for i in range(8):
        base = rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)
        info = PngImagePlugin.PngInfo()
        info.add_text("Software", "secret-ourmethod-v2")
        write(src / "natural" / f"holiday_photo_{i}.png", base, "PNG", pnginfo=info)
        exif = Image.Exif()
        exif[0x010E] = "made by baselinecam"  # ImageDescription
        write(src / "baselinecam" / f"holiday_photo_{i}.jpg", base, "JPEG", exif=exif.tobytes(), quality=90)
        write(src / "ourmethod" / f"holiday_photo_{i}.png", base[..., 0], "PNG")  # grey, other mode
    out = tmp_path / "mine"
    path, notes = build_from_folder(src, out, trials_per_rater=4, practice=1, catch=1, size=64,
                                    redirect_url="https://example.org/done?cc=X")
    study = load_study(out)
    assert set(study.conditions) == {"natural", "baselinecam", "ourmethod"}
    assert len(study.items) == 6 and len(study.catch_pool) == 2  # 2 items set aside for practice/catch
    assert study.redirect_url == "https://example.org/done?cc=X" and study.completion_code is None
    check_stimuli(out, 64, ["ourmethod", "baselinecam", "holiday", "natural", "secret"])
    # the pool's broken image is the real one with its tiles shuffled
    pair = next(iter(study.catch_pool.values()))
    real = np.asarray(Image.open(out / "stimuli" / pair["real"]))
    bad = np.asarray(Image.open(out / "stimuli" / pair["broken"]))
    assert real.shape == bad.shape and not np.array_equal(real, bad)
    assert "holiday" not in json.dumps([str(p) for p in (out / "stimuli").iterdir()])


def test_from_folder_errors_name_the_problem(tmp_path):
    rng = np.random.default_rng(2)
    src = tmp_path / "src"
    for c in ("natural", "ours"):
        for i in range(4):
            write(src / c / f"{i}.png", rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), "PNG")
    (src / "ours" / "3.png").unlink()
    with pytest.raises(ValueError, match=r"condition 'ours' has no image for item\(s\) \['3'\]"):
        build_from_folder(src, tmp_path / "o1")
    write(src / "ours" / "3.png", rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), "PNG")
    (src / "natural").rename(src / "photos")  # no natural condition: no untouched photos for catch trials
    with pytest.raises(ValueError, match="name the natural condition"):
        build_from_folder(src, tmp_path / "o2", practice=1, catch=1)
    with pytest.raises(ValueError, match="--natural 'nature' is not a condition folder"):
        build_from_folder(src, tmp_path / "o2", natural="nature")
    (src / "photos").rename(src / "natural")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "votes.csv").write_text("precious")
    with pytest.raises(ValueError, match="exists and is not empty"):
        build_from_folder(src, tmp_path / "busy")
    assert (tmp_path / "busy" / "votes.csv").read_text() == "precious"
    (src / "bad name").mkdir()
    with pytest.raises(ValueError, match="condition folder 'bad name'"):
        build_from_folder(src, tmp_path / "o3")


def test_command_line_errors_leave_nothing_behind(tmp_path):
    out = tmp_path / "never"
    proc = subprocess.run([sys.executable, "-m", "eval_studies.build", "--from-folder", str(tmp_path / "nope"),
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "is not a folder" in proc.stderr
    assert not out.exists()


FAKE_EXPORTER = """
import argparse, json
from pathlib import Path
import numpy as np
p = argparse.ArgumentParser(); p.add_argument('--request'); p.add_argument('--out')
a = p.parse_args()
req = json.loads(Path(a.request).read_text())
images = np.load(Path(a.request).parent / req['images'])['images']
out = Path(a.out); out.mkdir()
masks = np.zeros(images.shape[:3], bool); masks[:, 8:16, 8:16] = True
manifest = {'masks': 'masks.npz', 'fills': {}, 'skipped': {}}
names = [m['condition'] for m in req['methods'] if m['name'] in ('telea', 'navier-stokes')]
for name in names + ['inverted', 'bad name']:
    fills = images.copy(); fills[masks] = 255 - fills[masks]
    np.savez(out / f'{name}.npz', images=fills)
    manifest['fills'][name] = f'{name}.npz'
for m in req['methods']:
    if m['condition'] not in names:
        manifest['skipped'][m['name']] = 'no checkpoint'
(out / 'manifest.json').write_text(json.dumps(manifest))
"""


def test_demo_adds_the_methods_an_exporter_gives(tmp_path):
    exporter = tmp_path / "fake_exporter.py"
    exporter.write_text(FAKE_EXPORTER)
    out = tmp_path / "demo"
    _, notes = build_demo(out, n_items=30, n_pool=6, size=32, exporter=[sys.executable, str(exporter)])
    study = load_study(out)
    assert set(study.conditions) == {"natural", "telea", "navier_stokes", "inverted"}
    assert any("skipped ['bad name']" in n for n in notes)
    assert any("'context-encoder L2+adv' cannot run (no checkpoint)" in n for n in notes)
    failing = tmp_path / "failing.py"
    failing.write_text("raise SystemExit('no checkpoints here')\n")
    with pytest.raises(ValueError, match=r"failed \(no checkpoints here\)"):
        build_demo(tmp_path / "demo2", n_items=30, n_pool=6, size=32, exporter=[sys.executable, str(failing)])
    assert not (tmp_path / "demo2").exists()


def test_opencv_fills_keep_known_pixels_and_broken_moves_tiles():
    rng = np.random.default_rng(3)
    ims = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    hole = central(32, 32, frac=DEMO_HOLE["frac"])
    fills, notes = exported_fills(ims, opencv_methods(32))
    assert set(fills) == {"telea", "navier_stokes"}, notes
    for out in fills.values():
        for o, im in zip(out, ims):
            np.testing.assert_array_equal(o[~hole], im[~hole])
            assert not np.array_equal(o[hole], im[hole])
    im = ims[0]
    b = broken(im, seed=0)
    tiles = lambda x: [x[y:y + 8, c:c + 8].tobytes() for y in range(0, 32, 8) for c in range(0, 32, 8)]  # noqa: E731
    assert sorted(tiles(b)) == sorted(tiles(im)) and sum(a == c for a, c in zip(tiles(b), tiles(im))) <= 2
    png = encode_png(im, 16)
    with Image.open(io.BytesIO(png)) as decoded:
        assert decoded.size == (16, 16) and decoded.mode == "RGB"


def _folder(src: Path, make, n: int = 6):
    for c in ("natural", "ours"):
        for i in range(n):
            path = src / c / f"{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            make(i).save(path)


def test_sixteen_bit_greyscale_is_scaled_not_white(tmp_path):
    """Issue 19: Pillow's convert("RGB") turned a 16-bit greyscale PNG into a solid white stimulus."""
    from eval_studies.build import to_rgb8

    ramp = (np.arange(32 * 32, dtype=np.uint32).reshape(32, 32) * 64).astype(np.uint16)  # 0 .. 65472
    _folder(tmp_path / "src", lambda i: Image.fromarray(ramp))
    src_file = tmp_path / "src" / "natural" / "0.png"
    with Image.open(src_file) as im:
        assert im.mode.startswith("I")  # really 16-bit on disk
        rgb = to_rgb8(im)
    assert rgb.dtype == np.uint8 and rgb.min() == 0 and rgb.max() >= 250 and len(np.unique(rgb)) > 200
    build_from_folder(tmp_path / "src", tmp_path / "out", trials_per_rater=2, practice=1, catch=1, size=32)
    study = load_study(tmp_path / "out")
    arr = np.asarray(Image.open(study.stimuli_dir / next(iter(study.conditions["natural"].values()))))
    assert arr.std() > 40 and arr.mean() < 200  # a ramp, not white


def test_tiny_images_are_refused_unless_allowed_and_upscaling_is_noted(tmp_path):
    rng = np.random.default_rng(3)
    _folder(tmp_path / "src", lambda i: Image.fromarray(rng.integers(0, 256, (1 + i % 2, 1 + i % 2, 3), np.uint8)))
    with pytest.raises(ValueError, match=r"smaller than --size 64.*--allow-upscale"):
        build_from_folder(tmp_path / "src", tmp_path / "o1", trials_per_rater=2, practice=1, catch=1, size=64)
    _, notes = build_from_folder(tmp_path / "src", tmp_path / "o2", trials_per_rater=2, practice=1, catch=1,
                                 size=64, allow_upscale=True)
    assert any(n.startswith("warning:") and "upscaled" in n for n in notes)


def test_non_square_images_are_centre_cropped_or_squashed(tmp_path):
    wide = np.zeros((20, 40, 3), np.uint8)
    wide[:, 10:30] = 255  # a white centre square between black side bands
    _folder(tmp_path / "src", lambda i: Image.fromarray(wide))
    _, notes = build_from_folder(tmp_path / "src", tmp_path / "crop", trials_per_rater=2, practice=1, catch=1,
                                 size=20)
    assert any("centre-cropped" in n for n in notes)
    study = load_study(tmp_path / "crop")
    arr = np.asarray(Image.open(study.stimuli_dir / next(iter(study.conditions["ours"].values()))))
    assert arr.min() > 200  # only the white centre is left
    build_from_folder(tmp_path / "src", tmp_path / "squash", trials_per_rater=2, practice=1, catch=1, size=20,
                      fit="squash")
    study = load_study(tmp_path / "squash")
    arr = np.asarray(Image.open(study.stimuli_dir / next(iter(study.conditions["ours"].values()))))
    assert arr[:, 0].max() < 60  # the black bands are still there, squeezed
