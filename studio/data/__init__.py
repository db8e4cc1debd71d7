"""Text-to-SQL data: prompts, importers, the dataset registry and the demo dataset."""
