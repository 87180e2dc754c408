"""Built-in restoration tasks."""
