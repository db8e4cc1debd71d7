"""Models: references resolved in one place, the built-in model, the conversion cache and
LoRA adapter checks."""
