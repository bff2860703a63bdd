"""Measure the bundled models.

    python -m synth.evaluate generation [--samples 640] [--seed 0]    GAN and DCGAN (synth.gan.evaluate)
    python -m synth.evaluate snapshots runs/dcgan/snapshots            model selection on training data only
    python -m synth.evaluate giraffe ...                               controls, composition, quality (synth.giraffe.evaluate)
    python -m synth.evaluate inpainting ...                            hole filling (synth.inpaint.evaluate)
    python -m synth.evaluate guided ...                                guided inpainting (synth.guided.evaluate)
    python -m synth.evaluate harmonizer ...                            DH vs plain pasting (synth.guided.evaluate_harmonize)
    python -m synth.evaluate experiment ...                            the experiment (synth.guided.evaluate_experiment)
    python -m synth.evaluate guided-pairs ...                          real photo pairs (synth.guided.evaluate_pairs)
    python -m synth.evaluate guided-detail ...                         detail at full resolution (synth.guided.fullres)

Each evaluation takes its own flags after its name (`python -m synth.evaluate NAME --help`).
"""

from __future__ import annotations

from synth.cli import dispatch
from synth.gan import evaluate as gan_evaluate
from synth.giraffe import evaluate as giraffe_evaluate
from synth.guided import evaluate as guided_evaluate
from synth.guided import evaluate_experiment, evaluate_harmonize, evaluate_pairs, fullres
from synth.inpaint import evaluate as inpaint_evaluate

EVALUATIONS = {"generation": gan_evaluate.main, "snapshots": gan_evaluate.snapshots_main,
               "giraffe": giraffe_evaluate.main, "inpainting": inpaint_evaluate.main, "guided": guided_evaluate.main,
               "harmonizer": evaluate_harmonize.main, "experiment": evaluate_experiment.main,
               "guided-pairs": evaluate_pairs.main, "guided-detail": fullres.main}


def main(argv=None) -> None:
    dispatch(EVALUATIONS, argv, __doc__, "evaluation")


if __name__ == "__main__":
    main()
