"""One training entry point for every model of the project.

    python -m synth.train gan | dcgan | dcgan_scenes | classifier ...    (synth.gan.train)
    python -m synth.train export RUN DEST [--parts generator ...]      (copy a GAN run into assets/)
    python -m synth.train widen RUN NEW --ngf N --ndf N                (a DCGAN run grown to more channels)
    python -m synth.train giraffe ... | scene_counter ...               (synth.giraffe.train, synth.giraffe.counter)
    python -m synth.train context_encoder ...                           (synth.inpaint.train)
    python -m synth.train glcic ...                                     (synth.inpaint.train_glcic)
    python -m synth.train guided ...                                    (synth.guided.train)
    python -m synth.train harmonizer ...                                (synth.guided.train_harmonize)
    python -m synth.train NAME --help                                   (that trainer's flags)

Every run writes args.json, checkpoints (safetensors + config.json), state.pt to resume from (--resume), a
sample grid and the loss log with its plot (synth.training).
"""

from __future__ import annotations

from synth.cli import dispatch
from synth.gan import train as gan_train
from synth.gan import widen as gan_widen
from synth.giraffe import counter as giraffe_counter
from synth.giraffe import train as giraffe_train
from synth.guided import train as guided_train
from synth.guided import train_harmonize
from synth.inpaint import train as inpaint_train
from synth.inpaint import train_glcic

TRAINERS = {
    "gan": lambda argv: gan_train.train_gan("gan", argv),
    "dcgan": lambda argv: gan_train.train_gan("dcgan", argv),
    "dcgan_scenes": lambda argv: gan_train.train_gan("dcgan_scenes", argv),
    "classifier": gan_train.train_classifier,
    "export": gan_train.export_main,
    "widen": gan_widen.main,
    "giraffe": giraffe_train.main,
    "scene_counter": giraffe_counter.train,
    "context_encoder": inpaint_train.main,
    "glcic": train_glcic.main,
    "guided": guided_train.main,
    "harmonizer": train_harmonize.main,
}


def main(argv=None) -> None:
    dispatch(TRAINERS, argv, __doc__, "model")


if __name__ == "__main__":
    main()
