"""Registry of the image generators: the Generate tab's dropdown, training and evaluation are built from it."""

from dataclasses import dataclass

from synth.gan import dcgan, gan


@dataclass(frozen=True)
class GeneratorSpec:
    name: str
    title: str
    config_cls: type
    generator_cls: type
    discriminator_cls: type
    dataset: str
    in_app: bool = True  # listed by the Generate tab (False: an evaluation baseline only)


GENERATORS = {
    "gan": GeneratorSpec("gan", "GAN (Goodfellow et al. 2014), MLP, 28x28 digits",
                         gan.GANConfig, gan.Generator, gan.Discriminator, "digits"),
    "dcgan": GeneratorSpec("dcgan", "DCGAN (Radford et al. 2016), 64x64 digits",
                           dcgan.DCGANConfig, dcgan.Generator, dcgan.Discriminator, "digits"),
    # the GIRAFFE evaluation's baseline: the same DCGAN on the procedural 3D scenes (RGB)
    "dcgan_scenes": GeneratorSpec("dcgan_scenes", "DCGAN (Radford et al. 2016), 64x64 3D scenes",
                                  dcgan.DCGANScenesConfig, dcgan.Generator, dcgan.Discriminator,
                                  "scenes", in_app=False),
}


def get_spec(name: str) -> GeneratorSpec:
    if name not in GENERATORS:
        raise KeyError(f"unknown model {name!r}; available: {sorted(GENERATORS)}")
    return GENERATORS[name]
