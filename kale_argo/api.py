"""``kale_argo.api``: the counterpart of ``kale.sdk.api`` (``from kale.sdk.api import step``).

The same objects as ``kale_argo``'s own: :func:`pipeline`, :func:`step`, :func:`artifact`.
"""

from .sdk.decorators import artifact, pipeline, step

__all__ = ["artifact", "pipeline", "step"]
