"""Submitting and managing runs on a cluster: Argo Server and Kubernetes API backends.

Public surface: :func:`submit_pipeline`, :func:`get_backend`, :func:`api_client`. Heavy clients
(kubernetes, hera) are imported only when used.
"""

from __future__ import annotations

from typing import Any

__all__ = ["api_client", "get_backend", "submit_pipeline"]


def __getattr__(name: str) -> Any:
    if name == "submit_pipeline":
        from .submit import submit_pipeline

        return submit_pipeline
    if name == "get_backend":
        from .backend import get_backend

        return get_backend
    if name == "api_client":
        from .kube import api_client

        return api_client
    raise AttributeError(name)
