"""Gradio tabs. Each module exposes build_tab() and stays a thin layer over synth/ or eval_studies/."""
