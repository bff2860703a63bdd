"""A small digit classifier: the feature extractor for the Inception-style score and the Frechet distance.

It is trained only on held-out digits (never on the GANs' training split), so it judges samples with
eyes that did not see what the generators saw. Input 28x28 grey in [-1, 1].
"""

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from synth import data


@dataclass
class ClassifierConfig:
    width: int = 16      # small: trains in minutes on 2 cores
    features: int = 128   # penultimate layer: the Frechet distance's feature space
    n_classes: int = 10
    dropout: float = 0.3


class DigitClassifier(nn.Module):
    def __init__(self, cfg: ClassifierConfig):
        super().__init__()
        w = cfg.width
        self.body = nn.Sequential(
            nn.Conv2d(1, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(True),
            nn.Conv2d(w, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(True), nn.MaxPool2d(2),          # w x 14 x 14
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(True),
            nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(True), nn.MaxPool2d(2),  # 7 x 7
            nn.Flatten(), nn.Dropout(cfg.dropout),
            nn.Linear(2 * w * 49, cfg.features), nn.ReLU(True),
        )
        self.head = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(cfg.features, cfg.n_classes))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def classifier_splits(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Held-out digits -> (fit, reference): 70 per class to fit the classifier, 30 per class as the real
    reference that the evaluation scores (never seen by the classifier nor by any generator)."""
    labels = data.load("digits", "heldout").labels
    reference, fit = data.stratified_split(labels, n_per_class=30, seed=seed)
    return fit, reference
