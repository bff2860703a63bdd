"""The lecture's GAN losses, written on logits (D(x) = sigmoid(logit)) so they stay finite.

    J(D) = -1/2 E log D(x) - 1/2 E log(1 - D(G(z)))
    J(G) = -1/2 E log D(G(z))             non-saturating (the default)
    J(G) = -J(D) -> 1/2 E log(1 - D(G(z))) minimax (the only part that depends on G); its gradient
                                             vanishes when D confidently rejects samples, which is why it stalls

Identities used: -log sigmoid(a) = softplus(-a) and -log(1 - sigmoid(a)) = softplus(a).
"""

import torch
import torch.nn.functional as F


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return 0.5 * F.softplus(-real_logits).mean() + 0.5 * F.softplus(fake_logits).mean()


def generator_loss(fake_logits: torch.Tensor, minimax: bool = False) -> torch.Tensor:
    if minimax:
        return -0.5 * F.softplus(fake_logits).mean()
    return 0.5 * F.softplus(-fake_logits).mean()
