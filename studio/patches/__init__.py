"""Everything that replaces or wraps a transformers / TRL internal, in one place; registry.py lists
each patch, its config key and the private symbols it relies on."""
