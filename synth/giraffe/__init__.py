"""GIRAFFE (Niemeyer and Geiger, CVPR 2021): everything of the lecture method in one folder.

    model.py     GiraffeConfig, Latents, sample_latents, the feature fields, composition, volume rendering,
                 the neural renderer, Generator, Discriminator, load_giraffe (a trained generator from a folder)
    controls.py  the six controls as edits of the latents, controlled_latents (slider units), sweep_values
    render.py    what the tab shows: loading the bundled checkpoint, render, side_views, animate, views, feature_pca
    scenes.py    the procedural 3D scenes it trains on (``python -m synth.giraffe.scenes export ...``)
    counter.py   the scene counter, the evaluation's judge (``python -m synth.train scene_counter``)
    train.py     the trainer, main(argv) (``python -m synth.train giraffe``, also ``--export RUN DEST``)
    evaluate.py  controllability, composition, quality beside a DCGAN, speed, main(argv)
                 (``python -m synth.evaluate giraffe``)
"""
