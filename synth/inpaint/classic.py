"""Weight-free baselines: mean colour of the surroundings, OpenCV's Telea and Navier-Stokes."""

from __future__ import annotations

import cv2
import numpy as np

from .base import Inpainter, hole_bbox, known_band


class MeanColour(Inpainter):
    name = "mean-colour"
    description = "each piece of the hole gets the mean colour of the known pixels around that piece"

    def _fill(self, image, mask):
        out = image.copy()
        n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
        for i in range(1, n):
            piece = labels == i
            y0, x0, y1, x1 = hole_bbox(piece)
            band = known_band(piece, max(2, max(y1 - y0, x1 - x0) // 4))
            if not band.any():
                band = ~mask
            out[piece] = np.round(image[band].reshape(-1, 3).mean(0)).astype(np.uint8)
        return out


class _OpenCV(Inpainter):
    flag = cv2.INPAINT_TELEA
    radius = 5

    def _fill(self, image, mask):
        return cv2.inpaint(image, mask.astype(np.uint8) * 255, self.radius, self.flag)


class Telea(_OpenCV):
    name = "telea"
    description = "OpenCV, Telea 2004: fast marching from the border inwards, weighted neighbour averages"
    flag = cv2.INPAINT_TELEA


class NavierStokes(_OpenCV):
    name = "navier-stokes"
    description = "OpenCV, Bertalmio et al. 2001: continues isophotes into the hole like a fluid flow"
    flag = cv2.INPAINT_NS


class Biharmonic(Inpainter):
    name = "biharmonic"
    description = "scikit-image: the smoothest surface (biharmonic equation) through the hole's border"
    max_side = 1024   # one sparse solve over the hole: minutes and gigabytes for big holes on big photos

    def _fill(self, image, mask):
        from skimage.restoration import inpaint_biharmonic

        out = inpaint_biharmonic(image, mask, channel_axis=-1)
        return np.round(out * 255).astype(np.uint8)
