"""The modules next to a script that it imports (resolved by :mod:`kale_argo.runtime.modules`,
which the step runtime also uses to fingerprint a step's code for the step cache)."""

from ..runtime.modules import local_modules

__all__ = ["local_modules"]
