"""What a PVC is made of: size, storage class, access modes, CSI driver, and its snapshot class."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...errors import AuthError, KaleArgoError, WorkspaceError
from ...labels import DEFAULT_SNAPSHOT_CLASS_ANNOTATION, DEFAULT_STORAGE_CLASS_ANNOTATION
from ...spec import PipelineSpec
from ...units import parse_quantity
from ..kube import Kube, Obj

# CSI drivers known to serve ReadWriteMany (file storage); others count as RWX only when the
# source claim itself is RWX.
RWX_DRIVERS = ("nfs", "cephfs", "efs.csi.aws.com", "file.csi.azure.com", "filestore.csi.storage.gke.io",
               "lustre", "smb.csi.k8s.io", "juicefs")


@dataclass(frozen=True)
class ClaimInfo:
    """A PersistentVolumeClaim as the workspace layer needs it."""

    name: str
    namespace: str
    size: str | None
    storage_class: str | None
    access_modes: list[str] = field(default_factory=list)
    driver: str | None = None
    phase: str | None = None
    volume: str | None = None
    storage_class_found: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def rwx(self) -> bool:
        """Whether claims on this storage can be mounted read-write from several nodes."""
        if "ReadWriteMany" in self.access_modes:
            return True
        return bool(self.driver) and any(d in (self.driver or "") for d in RWX_DRIVERS)


def claim_size(claim: Obj) -> str | None:
    """The larger of a claim's requested and actual capacity."""
    requested = ((claim.get("spec") or {}).get("resources") or {}).get("requests", {}).get("storage")
    actual = ((claim.get("status") or {}).get("capacity") or {}).get("storage")
    return larger(requested, actual)


def larger(*sizes: str | None) -> str | None:
    """The largest of some quantities (None and unparsable ones ignored)."""
    best: tuple[object, str] | None = None
    for size in sizes:
        if not size:
            continue
        try:
            value = parse_quantity(size)
        except ValueError:
            continue
        if best is None or value > best[0]:  # type: ignore[operator]
            best = (value, size)
    return best[1] if best else None


def inspect_claim(kube: Kube, namespace: str, name: str, where: str | None = None) -> ClaimInfo:
    """Read a claim, its PersistentVolume and StorageClass; WorkspaceError if the claim is missing."""
    claim = kube.claim(namespace, name)
    if claim is None:
        raise WorkspaceError(f"persistentvolumeclaim {name!r} not found in namespace {namespace!r}",
                             where=where, hint="check the claim's name with: kubectl get pvc")
    spec = claim.get("spec") or {}
    storage_class = spec.get("storageClassName")
    volume_name = spec.get("volumeName")
    driver = None
    notes: list[str] = []
    if volume_name:
        try:
            volume = kube.volume(volume_name) or {}
        except AuthError:  # cluster-scoped: a namespaced service account may not read it
            volume = {}
            notes.append(f"may not read persistentvolume {volume_name}: driver taken from the storage class")
        driver = ((volume.get("spec") or {}).get("csi") or {}).get("driver")
        storage_class = storage_class or (volume.get("spec") or {}).get("storageClassName")
    found = True
    if storage_class:
        try:
            sc = kube.storage_class(storage_class)
            found = sc is not None
        except AuthError:
            sc = None
            notes.append(f"may not read storageclass {storage_class}: assuming it exists")
        driver = driver or (sc or {}).get("provisioner")
    return ClaimInfo(name=name, namespace=namespace, size=claim_size(claim), storage_class=storage_class,
                     access_modes=list(spec.get("accessModes") or []), driver=driver,
                     phase=(claim.get("status") or {}).get("phase"), volume=volume_name,
                     storage_class_found=found, notes=notes)


def snapshot_class_for(classes: list[Obj], driver: str | None, wanted: str | None = None) -> Obj | None:
    """The VolumeSnapshotClass named ``wanted``, else the one for ``driver`` (its default first)."""
    if wanted:
        return next((c for c in classes if (c.get("metadata") or {}).get("name") == wanted), None)
    matching = [c for c in classes if driver and c.get("driver") == driver]
    matching.sort(key=lambda c: ((c.get("metadata") or {}).get("annotations", {})
                                 .get(DEFAULT_SNAPSHOT_CLASS_ANNOTATION) != "true",
                                 (c.get("metadata") or {}).get("name", "")))
    return matching[0] if matching else None


def class_name(obj: Obj) -> str:
    """An object's metadata.name."""
    return str((obj.get("metadata") or {}).get("name", ""))


def marshal_needs_colocation(kube: Kube, spec: PipelineSpec) -> str | None:
    """Why the marshal volume must be ReadWriteOnce and co-located, or None (best effort)."""
    marshal = spec.marshal
    if not marshal.volume or marshal.access_mode != "rwm":
        return None
    try:
        if marshal.storage_class:
            sc = kube.storage_class(marshal.storage_class)
        else:
            sc = next((c for c in kube.storage_classes() if (c.get("metadata") or {}).get(
                "annotations", {}).get(DEFAULT_STORAGE_CLASS_ANNOTATION) == "true"), None)
    except KaleArgoError:
        return None
    if sc is None:
        return None
    provisioner = str(sc.get("provisioner", ""))
    if any(d in provisioner for d in RWX_DRIVERS):
        return None
    name = (sc.get("metadata") or {}).get("name")
    return (f"storage class {name} ({provisioner}) is not known to serve ReadWriteMany: the marshal "
            "volume is ReadWriteOnce and the run's pods share one node")
