"""Inference: generation settings and engines (the prefix engine, plain `generate`) and the
playground that answers one question with several model variants."""
