"""Built-in plugins: search spaces, rewards, executors, loggers."""
