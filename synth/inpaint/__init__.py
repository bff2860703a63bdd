"""Every hole filler behind one interface and one registry.

    from synth.inpaint import get_inpainter
    out = get_inpainter("telea").fill(image, mask)   # uint8 HxWx3 RGB, bool HxW (True = hole)

A new method is one ``Inpainter`` subclass with a ``name`` added to REGISTRY. The package also holds the
masks (``masks``), the Context Encoder's network (``context_encoder``), its trainer (``train``), the
hole-filling evaluation (``evaluate``) and what the tabs draw (``display``).
"""

from __future__ import annotations

from functools import lru_cache

from . import masks
from .base import Inpainter, as_mask, as_rgb
from .classic import Biharmonic, MeanColour, NavierStokes, Telea
from .learned import GLCIC, ContextEncoderL2, ContextEncoderL2Adv, ContextEncoderAnyHole
from .nearest import NearestNeighbour
from .patch import PatchBased
from .patchmatch import PatchMatch

REGISTRY: dict[str, type[Inpainter]] = {cls.name: cls for cls in (
    GLCIC,
    ContextEncoderL2,
    ContextEncoderL2Adv,
    ContextEncoderAnyHole,
    NearestNeighbour,
    PatchBased,
    PatchMatch,
    Telea,
    NavierStokes,
    Biharmonic,
    MeanColour,
)}


@lru_cache(maxsize=None)
def get_inpainter(name: str) -> Inpainter:
    """The shared instance of a registered method (weights and databases load once)."""
    if name not in REGISTRY:
        raise KeyError(f"unknown model {name!r}; available: {sorted(REGISTRY)}")
    return REGISTRY[name]()


__all__ = ["REGISTRY", "Inpainter", "as_mask", "as_rgb", "get_inpainter", "masks"]
