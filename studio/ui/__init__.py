"""The Gradio studio: one module per tab, each a thin layer over studio's core functions."""
