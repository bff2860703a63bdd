"""Guided image inpainting (Zhao et al., WACV 2019): fill a hole with content pulled from a second image.

- ``model``: the network (spatial transformer with refinement passes, fusion, attention, decoder) and its
  losses.
- ``triplets``: the self-supervised training data (original, hole, guidance built from a corrupted patch of
  the original pasted into an unrelated photo) with the patch's true placement as a label.
- ``inpainter``: the trained model behind ``fill(image, mask, guidance)`` at any size, with its inner
  workings (the aligned guidance patch, the attention map, the transform) returned for display.
- ``display``: the pictures and comparisons the tab shows; ``examples``: the tab's bundled examples.
- ``train`` (``python -m synth.train guided``) and ``evaluate`` (``python -m synth.evaluate guided``).
"""
