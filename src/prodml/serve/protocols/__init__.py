"""The wire formats the server speaks, one module each, every one a list of routes."""

#: The modules of this package.
__all__ = ["admin", "feedback", "health", "keys", "mlflow", "native", "review", "v2"]
