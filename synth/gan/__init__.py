"""GAN and DCGAN, the lecture's first image generators, and the digit classifier that judges them.

    gan.py, dcgan.py   the models (a dataclass config, Generator, Discriminator)
    classifier.py      the evaluation's digit classifier and its held-out split
    losses.py          the GAN losses on logits (non-saturating and minimax)
    registry.py        GENERATORS / get_spec: every generator by name
    generate.py        what the Generate tab calls: seeded samples, latent walks, the architecture table
    train.py           python -m synth.train gan | dcgan | dcgan_scenes | classifier | export
    evaluate.py        python -m synth.evaluate generation | snapshots
"""
