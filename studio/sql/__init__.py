"""Databases: connections, schema introspection, safe execution, result comparison."""
