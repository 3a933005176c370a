"""Volumes of a run: the marshal claim, the workspace volumes (snapshot, clone, mount), the run's
marshal key (a Secret, read-only), the mounts.

Every step mounts the same set. Claims created per run are ``spec.volumeClaimTemplates``; Argo
names them after the Workflow and deletes them by ``volumeClaimGC``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from hera.workflows import models as m

from ..errors import PipelineError, UserError
from ..names import dns1123_label
from ..runtime.marshal.binding import POD_KEY_FILE
from ..spec import ACCESS_MODES, PipelineSpec, VolumeSpec
from .names import argo_names

MARSHAL_VOLUME = "kale-marshal"
RUN_DIR = "{{workflow.uid}}"
HIDDEN_MARSHAL = ".kale-marshal"
SNAPSHOT_API_GROUP = "snapshot.storage.k8s.io"
READ_WRITE_ONCE = "ReadWriteOnce"
MARSHAL_KEY_VOLUME = "kale-marshal-key"
MARSHAL_KEY_FILE = POD_KEY_FILE  # where the step runtime looks for the run's key in a pod
MARSHAL_KEY_DIR, _, MARSHAL_KEY_ITEM = POD_KEY_FILE.rpartition("/")
MARSHAL_KEY_MODE = 0o400
CACHE_VOLUME = "kale-cache"
CACHE_PATH = "/kale-cache"


@dataclass(frozen=True)
class VolumePlan:
    """What the Workflow and each step template get."""

    claim_templates: list[m.PersistentVolumeClaim]
    volumes: list[m.Volume]
    mounts: list[m.VolumeMount]
    marshal_dir: str
    summary: list[dict[str, str]]
    marshal_key_file: str | None = None
    """Where each step reads the run's marshal key, when a Secret holds one."""
    cache_dir: str | None = None
    """The step cache of this pipeline on the cache volume, when it has one."""


def plan_volumes(spec: PipelineSpec, workspace: list[VolumeSpec], colocate: bool,
                 marshal_key_secret: str | None = None) -> VolumePlan:
    """The marshal volume (or a hidden folder on the first workspace volume), the workspace and
    the Secret ``marshal_key_secret`` (its ``key``, mode 0400, read-only), if given.

    A ``snapshot`` volume whose VolumeSnapshot is not known yet (compiling without a cluster)
    compiles as a clone of its PVC: same content at run time, no snapshot object.
    """
    claims: list[m.PersistentVolumeClaim] = []
    volumes: list[m.Volume] = []
    mounts: list[m.VolumeMount] = []
    summary: list[dict[str, str]] = []
    marshal = spec.marshal
    if marshal.volume:
        mode = READ_WRITE_ONCE if colocate else ACCESS_MODES[marshal.access_mode]
        claims.append(_claim(MARSHAL_VOLUME, marshal.size, [mode], marshal.storage_class, None))
        mounts.append(m.VolumeMount(name=MARSHAL_VOLUME, mount_path=marshal.path))
        marshal_dir = _join(marshal.path, RUN_DIR)
    elif workspace or spec.claims:
        first = workspace[0].mount_path if workspace else spec.claims[0].mount_path
        marshal_dir = _join(first, HIDDEN_MARSHAL, RUN_DIR)
    else:
        raise PipelineError("marshal_volume=False needs a workspace volume to hold the values, and "
                            "there is none", hint="set marshal_volume=True or give volumes=[...]")
    names = argo_names([f"kale-ws-{v.claim}" for v in workspace], reserved=[MARSHAL_VOLUME])
    for name, vol in zip(names, workspace, strict=True):
        source = _source(vol)
        if vol.mode == "mount":
            volumes.append(m.Volume(name=name, persistent_volume_claim=m.PersistentVolumeClaimVolumeSource(
                claim_name=vol.claim)))
        else:
            if vol.size is None:
                raise UserError(f"workspace volume {vol.claim!r} has no size, which a clone needs",
                                hint=f"give its size, e.g. volumes=[{{'claim': {vol.claim!r}, "
                                     f"'mount_path': {vol.mount_path!r}, 'size': '10Gi'}}]")
            own = [ACCESS_MODES.get(a, a) for a in vol.access_modes] or [READ_WRITE_ONCE]
            modes = [READ_WRITE_ONCE] if colocate else own
            claims.append(_claim(name, vol.size, modes, vol.storage_class, source, vol.annotations))
        mounts.append(m.VolumeMount(name=name, mount_path=vol.mount_path))
        summary.append({"claim": vol.claim, "mode": vol.mode, "mountPath": vol.mount_path,
                        "volume": name, "source": f"{source.kind}/{source.name}" if source else vol.claim})
    if marshal_key_secret is not None:
        volumes.append(m.Volume(name=MARSHAL_KEY_VOLUME, secret=m.SecretVolumeSource(
            secret_name=marshal_key_secret, default_mode=MARSHAL_KEY_MODE,
            items=[m.KeyToPath(key=MARSHAL_KEY_ITEM, path=MARSHAL_KEY_ITEM)])))
        mounts.append(m.VolumeMount(name=MARSHAL_KEY_VOLUME, mount_path=MARSHAL_KEY_DIR, read_only=True))
    new_names = argo_names([f"kale-new-{c.name}" for c in spec.claims],
                           reserved=[MARSHAL_VOLUME, *names])
    for name, new in zip(new_names, spec.claims, strict=True):
        own = [ACCESS_MODES.get(a, a) for a in new.access_modes] or [ACCESS_MODES[marshal.access_mode]]
        claim = _claim(name, new.size, [READ_WRITE_ONCE] if colocate else own, new.storage_class,
                       None, new.annotations)
        if new.volume_name:  # Kale's "pv": bind the claim to the existing PersistentVolume
            assert claim.spec is not None
            claim.spec.volume_name = new.volume_name
        claims.append(claim)
        mounts.append(m.VolumeMount(name=name, mount_path=new.mount_path))
        summary.append({"claim": new.name, "mode": "pv" if new.volume_name else "new",
                        "mountPath": new.mount_path, "volume": name,
                        "source": f"PersistentVolume/{new.volume_name}" if new.volume_name else "new"})
    cache_dir = None
    if spec.cache_volume is not None:
        cache_claim = m.PersistentVolumeClaimVolumeSource(claim_name=spec.cache_volume)
        volumes.append(m.Volume(name=CACHE_VOLUME, persistent_volume_claim=cache_claim))
        mounts.append(m.VolumeMount(name=CACHE_VOLUME, mount_path=CACHE_PATH))
        cache_dir = _join(CACHE_PATH, dns1123_label(spec.name) or "pipeline")
    paths = [mt.mount_path for mt in mounts]
    for path in paths:
        if paths.count(path) > 1:
            raise UserError(f"two volumes are mounted at {path!r}",
                            hint="give the marshal volume and each workspace volume its own path")
    return VolumePlan(claims, volumes, mounts, marshal_dir, summary,
                      MARSHAL_KEY_FILE if marshal_key_secret is not None else None, cache_dir)


def volumes_annotation(plan: VolumePlan) -> str | None:
    """The workspace volumes as compact JSON (which PVC became which clone), or None."""
    return json.dumps(plan.summary, sort_keys=True, separators=(",", ":")) if plan.summary else None


def _source(vol: VolumeSpec) -> m.TypedLocalObjectReference | None:
    if vol.mode == "mount":
        return None
    if vol.mode == "snapshot" and vol.snapshot:
        return m.TypedLocalObjectReference(api_group=SNAPSHOT_API_GROUP, kind="VolumeSnapshot",
                                           name=vol.snapshot)
    return m.TypedLocalObjectReference(kind="PersistentVolumeClaim", name=vol.claim)


def _claim(name: str, size: str, modes: list[str], storage_class: str | None,
           source: m.TypedLocalObjectReference | None,
           annotations: dict[str, str] | None = None) -> m.PersistentVolumeClaim:
    return m.PersistentVolumeClaim(
        metadata=m.ObjectMeta(name=name, annotations=dict(sorted(annotations.items())) or None
                              if annotations else None),
        spec=m.PersistentVolumeClaimSpec(
            access_modes=modes, storage_class_name=storage_class, data_source=source,
            resources=m.VolumeResourceRequirements(requests={"storage": m.Quantity(root=size)})))


def _join(*parts: str) -> str:
    return "/".join([parts[0].rstrip("/"), *parts[1:]])
