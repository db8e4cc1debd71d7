"""Everything that replaces or wraps a transformers / TRL internal, in one place."""
