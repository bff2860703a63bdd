"""Guided image inpainting (Zhao et al., WACV 2019): fill a hole with content pulled from a second image.

- ``triplets``: the self-supervised training data (original, hole, guidance built from a corrupted patch of
  the original pasted into an unrelated photo) with the patch's true placement as a label.
- ``inpainter``: the trained model behind ``fill(image, mask, guidance)`` at any size, with its inner
  workings (the aligned guidance patch, the attention map) returned for display.
"""
