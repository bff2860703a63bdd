"""PatchMatch hole filling (Barnes, Shechtman, Finkelstein and Goldman, SIGGRAPH 2009), the algorithm behind
Photoshop's Content-Aware Fill, standing in for it (Content-Aware Fill itself is closed).

The compiled implementation of the pypatchmatch package (import name ``patchmatch``): coarse to fine over an
image pyramid, a nearest-neighbour field from every hole patch to a known patch of the same photo found by
PatchMatch (random initialisation, propagation, random search), each hole pixel the vote of the patches over
it (Wexler et al. 2007's completion), repeated a few times per level.

Patch size (the package's ``patch_size`` is a radius: patches are (2r+1) x (2r+1)), measured on 16 held-out
256x256 crops (``heldout_crops(16, 256, seed=3)``) with a central 128x128 hole, one thread, shared CPU:

    radius          2      3      4      5      6      7
    PSNR in hole    21.34  21.29  21.42  21.24  21.89  21.76  dB
    median time     0.39   0.52   0.71   0.83   1.32   2.05   s

Radii 2 to 5 are within 0.2 dB of each other and look alike on a contact sheet; 6 gains 0.5 dB at 2.5 times
the time. Radius 3 (7x7 patches, the paper's size) is the default. Time grows with the photo's area (the
pyramid covers the whole photo): 2.7 s at 1024x768 and 8 s at 2048x1536 with a 10% hole, hence ``max_side``.
"""

from __future__ import annotations

import threading

from .base import Inpainter

_SEED_LOCK = threading.Lock()   # the native library keeps its random seed in a global


class PatchMatch(Inpainter):
    name = "patchmatch (content-aware fill stand-in)"
    description = ("PatchMatch (Barnes et al. 2009) through the pypatchmatch package: the algorithm behind "
                   "Photoshop's Content-Aware Fill, standing in for it; copies 7x7 patches of the photo itself")
    max_side = 2048     # about 8 s at 2048x1536 with a 10% hole; 4000 px photos would take half a minute
    patch_radius = 3    # 7x7 patches (module docstring: measured against radii 2..7)
    seed = 0            # the randomised search starts from this seed: same input, same pixels

    def __init__(self, patch_radius: int | None = None, seed: int | None = None):
        if patch_radius is not None:
            if not 1 <= int(patch_radius) <= 15:
                raise ValueError(f"patch_radius must be 1..15 px, got {patch_radius}")
            self.patch_radius = int(patch_radius)
        if seed is not None:
            self.seed = int(seed)

    def _fill(self, image, mask):
        import patchmatch

        if not patchmatch.patchmatch_available:
            raise RuntimeError("the pypatchmatch native library did not load: reinstall pypatchmatch")
        with _SEED_LOCK:
            patchmatch.set_random_seed(self.seed % 2 ** 32)
            return patchmatch.inpaint(image, mask, patch_size=int(self.patch_radius))

