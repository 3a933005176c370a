"""Connecting to the Kubernetes API: kubeconfig (with a context) or the pod's service account.

:func:`api_client` returns a ready ``kubernetes.client.ApiClient``; its default namespace (the
kubeconfig context's namespace, or the service account's namespace file, else ``default``) is on
``client.kale_namespace`` and from :func:`default_namespace`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError

#: Where Kubernetes mounts a pod's service-account token, CA and namespace (overridable for tests).
SERVICE_ACCOUNT_DIR_ENV = "KALE_ARGO_SERVICEACCOUNT_DIR"
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def service_account_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The service-account directory (``$KALE_ARGO_SERVICEACCOUNT_DIR`` overrides the standard one);
    ``environ`` defaults to the process's."""
    env = os.environ if environ is None else environ
    return Path(env.get(SERVICE_ACCOUNT_DIR_ENV) or SERVICE_ACCOUNT_DIR)


def in_cluster() -> bool:
    """True inside a pod with a mounted service-account token."""
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and (service_account_dir() / "token").is_file()


def service_account_namespace() -> str | None:
    """The pod's namespace from the service-account namespace file, or None outside a pod."""
    try:
        return (service_account_dir() / "namespace").read_text().strip() or None
    except OSError:
        return None


def _kubeconfig_path(kubeconfig: str | None) -> str:
    return kubeconfig or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")


def _kubeconfig_exists(path: str) -> bool:
    return any(Path(p).expanduser().is_file() for p in path.split(os.pathsep) if p)


def _use_kubeconfig(context: str | None, kubeconfig: str | None) -> bool:
    if context or kubeconfig or os.environ.get("KUBECONFIG"):
        return True
    return not in_cluster() and _kubeconfig_exists(_kubeconfig_path(None))


def _context_namespace(context: str | None, kubeconfig: str | None) -> str | None:
    from kubernetes import config

    contexts, current = config.list_kube_config_contexts(config_file=_kubeconfig_path(kubeconfig))
    chosen = current
    if context:
        chosen = next((c for c in contexts if c.get("name") == context), None)
    if not chosen:
        return None
    return (chosen.get("context") or {}).get("namespace") or None


def default_namespace(context: str | None = None, kubeconfig: str | None = None) -> str:
    """The namespace a command uses when none is given: context's, service account's, or default."""
    if _use_kubeconfig(context, kubeconfig):
        try:
            namespace = _context_namespace(context, kubeconfig)
        except Exception:  # unreadable kubeconfig: api_client() reports it
            namespace = None
        return namespace or "default"
    return service_account_namespace() or "default"


def api_client(context: str | None = None, kubeconfig: str | None = None) -> Any:
    """A ``kubernetes.client.ApiClient`` from kubeconfig (``context``) or the pod's service account.

    Explicit ``kubeconfig``/``context`` (or ``$KUBECONFIG``) use the kubeconfig; inside a pod without
    one, the in-cluster service account is used. Raises ConfigError (exit 2) when neither works.
    The client's ``kale_namespace`` attribute holds :func:`default_namespace`.
    """
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    configuration = client.Configuration()
    if _use_kubeconfig(context, kubeconfig):
        path = _kubeconfig_path(kubeconfig)
        if not _kubeconfig_exists(path):
            raise ConfigError(f"kubeconfig {path} does not exist", where="--kubeconfig",
                              hint="pass --kubeconfig FILE, set KUBECONFIG, or run inside a pod")
        try:
            config.load_kube_config(config_file=path, context=context,
                                    client_configuration=configuration, persist_config=False)
        except ConfigException as exc:
            where = "--context" if context else "--kubeconfig"
            raise ConfigError(f"cannot use kubeconfig {path}: {_first_line(exc)}", where=where,
                              hint="check `kubectl config get-contexts`") from None
    else:
        sa_dir = service_account_dir()
        try:
            config.incluster_config.InClusterConfigLoader(
                token_filename=str(sa_dir / "token"), cert_filename=str(sa_dir / "ca.crt"),
            ).load_and_set(configuration)
        except ConfigException as exc:
            raise ConfigError(f"no kubeconfig and no in-cluster service account: {_first_line(exc)}",
                              where="--kubeconfig",
                              hint="pass --kubeconfig FILE or --context NAME, or set KUBECONFIG") from None
    from .redact import register_secret

    for value in (configuration.api_key or {}).values():
        register_secret(value)
    api = client.ApiClient(configuration)
    api.kale_namespace = default_namespace(context, kubeconfig)  # type: ignore[attr-defined]
    return api


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
