"""Models: built from a factory spec, or a plain Python rule wrapped as a model."""

#: The modules of this package; each names its public functions and classes.
__all__ = ["factory", "rules"]
