"""Degrees of automation: where the model decides alone and where a person decides."""

#: The modules of this package; each names its public functions and classes.
__all__ = ["label_studio", "levels", "setting", "threshold"]
