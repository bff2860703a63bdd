"""The tiny GIRAFFE config every GIRAFFE test builds (a forward pass in milliseconds)."""

from synth import checkpoint
from synth.giraffe.model import GiraffeConfig

TINY = {"hidden": 16, "n_blocks": 3, "skips": [1], "z_dim": 8, "z_dim_bg": 4, "bg_hidden": 8, "bg_blocks": 2,
        "feat_dim": 8, "render_feat": 8, "render_min_feat": 4, "ndf": 8, "n_samples": 8}


def tiny_cfg(**kw) -> GiraffeConfig:
    return checkpoint.config_from_dict(GiraffeConfig, {**TINY, **kw})
