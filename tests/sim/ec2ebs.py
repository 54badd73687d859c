"""EBS and AMI actions: DescribeVolumes, CreateSnapshot(s), DescribeSnapshots,
DeleteSnapshot, CopySnapshot, CreateImage, DescribeImages, DeregisterImage,
CopyImage.

Snapshots start `pending` and become `completed` (images: `available`)
snapshot_completion_s (image_completion_s) after creation; the move happens
lazily when state is read (Region.settle), so no thread is involved.
"""

import datetime
import hashlib
import json
import re
import time

from ec2common import (apply_filters, by_id, id_key, merged_tags, new_id, no_ids_with_max_results,
                       not_found, owner_matcher, paginate, require_ids, tag_list, tag_specifications)
from ec2proto import Ec2Error
from simstate import UTC

COPIED_VOLUME_ID = "vol-ffffffff"  # what AWS shows as the volume of a copied snapshot


def _now():
    """Now, at the millisecond precision EC2 answers with (stored == served)."""
    now = datetime.datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


# ---------------------------------------------------------------------------
# volumes

def volume_shape(ctx, vol):
    attachments = [{"AttachTime": bd["attach_time"], "Device": device, "InstanceId": inst["id"],
                    "State": "attached", "VolumeId": vol["id"],
                    "DeleteOnTermination": bd["delete_on_termination"]}
                   for inst, device, bd in ctx.region.volume_attachments(vol["id"])]
    out = {
        "Attachments": attachments,
        "AvailabilityZone": vol["az"],
        "CreateTime": vol["create_time"],
        "Encrypted": vol["encrypted"],
        "Size": vol["size"],
        "SnapshotId": vol["snapshot_id"],
        "State": vol["state"],
        "VolumeId": vol["id"],
        "Iops": vol["iops"],
        "Tags": tag_list(vol["tags"]),
        "VolumeType": vol["type"],
        "MultiAttachEnabled": False,
    }
    if vol["type"] == "gp3":
        out["Throughput"] = 125
    return out


def describe_volumes(ctx, params):
    region = ctx.region
    no_ids_with_max_results(params, "VolumeIds", "volumeSet")
    ids = params.get("VolumeIds")
    if ids:
        require_ids(region.volumes, ids)
        vols = [region.volumes[v] for v in sorted(set(ids))]
    else:
        vols = by_id(region.volumes)

    def att(vol, what):
        return [what(inst, device, bd) for inst, device, bd in region.volume_attachments(vol["id"])]

    vols = apply_filters(vols, params.get("Filters"), {
        "volume-id": lambda v: v["id"],
        "attachment.instance-id": lambda v: att(v, lambda i, d, b: i["id"]),
        "attachment.device": lambda v: att(v, lambda i, d, b: d),
        "attachment.status": lambda v: att(v, lambda i, d, b: "attached"),
        "attachment.delete-on-termination": lambda v: att(v, lambda i, d, b: b["delete_on_termination"]),
        "availability-zone": lambda v: v["az"],
        "encrypted": lambda v: v["encrypted"],
        "size": lambda v: v["size"],
        "snapshot-id": lambda v: v["snapshot_id"],
        "status": lambda v: v["state"],
        "volume-type": lambda v: v["type"],
        "multi-attach-enabled": lambda v: False,
    }, tags_of=lambda v: v["tags"])
    page, token = paginate(ctx, vols, params, max_results=500, key=id_key, clamp=True)
    return {"Volumes": [volume_shape(ctx, v) for v in page], "NextToken": token}


# ---------------------------------------------------------------------------
# snapshots

def _progress(snap, now):
    if snap["state"] == "completed":
        return "100%"
    if snap["state"] == "pending" and snap.get("complete_at"):
        total = snap["complete_at"] - snap["start_time"].timestamp()
        done = (now - snap["start_time"].timestamp()) / total if total > 0 else 1
        return f"{max(0, min(99, int(done * 100)))}%"
    return snap.get("progress") or "0%"


def snapshot_shape(ctx, snap, now=None):
    now = time.time() if now is None else now
    return {
        "Description": snap["description"],
        "Encrypted": snap["encrypted"],
        "OwnerId": snap["owner_id"],
        "OwnerAlias": snap.get("owner_alias"),
        "Progress": _progress(snap, now),
        "SnapshotId": snap["id"],
        "StartTime": snap["start_time"],
        "State": snap["state"],
        "StateMessage": snap.get("state_message"),
        "VolumeId": snap["volume_id"],
        "VolumeSize": snap["volume_size"],
        "Tags": tag_list(snap["tags"]),
        "StorageTier": "standard",
    }


def _new_snapshot(ctx, region, volume_id, size, description, tags, start, encrypted=False):
    delay = ctx.state.setting("snapshot_completion_s")
    sid = new_id("snap-", region.snapshots)
    snap = {
        "id": sid, "volume_id": volume_id, "volume_size": size, "description": description or "",
        "owner_id": ctx.state.account_id, "owner_alias": None, "start_time": start,
        "state": "pending", "state_message": None, "progress": "0%",
        "complete_at": start.timestamp() + delay, "encrypted": encrypted, "tags": dict(tags),
    }
    region.snapshots[sid] = snap
    region.pending[sid] = "snapshots"
    return snap


def _usable_instance(region, iid):
    inst = region.instances.get(iid)
    if inst is None:
        raise not_found(iid)
    if inst["state"] in ("terminated", "shutting-down"):
        raise Ec2Error("IncorrectInstanceState",
                       f"The instance '{iid}' is not in a state from which it can be snapshotted.")
    return inst


def create_snapshots(ctx, params):
    region = ctx.region
    spec = params["InstanceSpecification"]
    iid = spec.get("InstanceId")
    if not iid:
        raise Ec2Error("MissingParameter",
                       "The request must contain the parameter InstanceSpecification.InstanceId")
    inst = _usable_instance(region, iid)
    tags = tag_specifications(params, ("snapshot",)).get("snapshot", {})
    excluded = set(spec.get("ExcludeDataVolumeIds") or [])
    attached = {bd["volume_id"]: dev for dev, bd in inst["block_devices"].items()}
    for vid in excluded:
        if vid not in attached:
            raise Ec2Error("InvalidParameterValue",
                           f"The volume {vid} specified in ExcludeDataVolumeIds is not attached to {iid}.")
        if attached[vid] == inst["root_device"]:
            raise Ec2Error("InvalidParameterValue",
                           "The root volume cannot be excluded with ExcludeDataVolumeIds; "
                           "use ExcludeBootVolume instead.")
    chosen = [(dev, bd["volume_id"]) for dev, bd in inst["block_devices"].items()
              if bd["volume_id"] not in excluded
              and not (spec.get("ExcludeBootVolume") and dev == inst["root_device"])]
    if not chosen:
        raise Ec2Error("InvalidParameterValue",
                       f"No EBS volume of instance {iid} is left to snapshot after the exclusions.")
    start = _now()  # one start time for the whole crash-consistent set
    out = []
    for dev, vid in chosen:
        vol = region.volumes[vid]
        own = vol["tags"] if params.get("CopyTagsFromSource") == "volume" else {}
        snap = _new_snapshot(ctx, region, vid, vol["size"], params.get("Description"),
                             merged_tags(own, tags), start, vol["encrypted"])
        out.append(snap)
    now = time.time()
    return {"Snapshots": [{
        "Description": s["description"], "Tags": tag_list(s["tags"]), "Encrypted": s["encrypted"],
        "VolumeId": s["volume_id"], "State": s["state"], "VolumeSize": s["volume_size"],
        "StartTime": s["start_time"], "Progress": _progress(s, now), "OwnerId": s["owner_id"],
        "SnapshotId": s["id"]} for s in out]}


def create_snapshot(ctx, params):
    region = ctx.region
    vid = params["VolumeId"]
    vol = region.volumes.get(vid)
    if vol is None:
        raise not_found(vid)
    tags = tag_specifications(params, ("snapshot",)).get("snapshot", {})
    snap = _new_snapshot(ctx, region, vid, vol["size"], params.get("Description"), tags, _now(),
                         vol["encrypted"])
    return snapshot_shape(ctx, snap)


def describe_snapshots(ctx, params):
    region = ctx.region
    no_ids_with_max_results(params, "SnapshotIds", "snapshotSet")
    ids = params.get("SnapshotIds")
    if ids:
        require_ids(region.snapshots, ids)
        snaps = [region.snapshots[s] for s in sorted(set(ids))]
    else:
        snaps = by_id(region.snapshots)
    owned = owner_matcher(ctx, params.get("OwnerIds"))
    if params.get("OwnerIds"):
        snaps = [s for s in snaps if owned(s)]
    now = time.time()
    snaps = apply_filters(snaps, params.get("Filters"), {
        "snapshot-id": lambda s: s["id"],
        "volume-id": lambda s: s["volume_id"],
        "status": lambda s: s["state"],
        "description": lambda s: s["description"],
        "encrypted": lambda s: s["encrypted"],
        "owner-id": lambda s: s["owner_id"],
        "owner-alias": lambda s: s.get("owner_alias"),
        "progress": lambda s: _progress(s, now),
        "start-time": lambda s: s["start_time"].strftime("%Y-%m-%dT%H:%M:%S.") +
        "%03dZ" % (s["start_time"].microsecond // 1000),
        "volume-size": lambda s: s["volume_size"],
        "storage-tier": lambda s: "standard",
    }, tags_of=lambda s: s["tags"])
    page, token = paginate(ctx, snaps, params, max_results=1000, key=id_key, clamp=True)
    return {"Snapshots": [snapshot_shape(ctx, s, now) for s in page], "NextToken": token}


def _images_using(region, sid):
    return [img for img in region.images.values()
            if any(bd.get("snapshot_id") == sid for bd in img["block_devices"])]


def delete_snapshot(ctx, params):
    region = ctx.region
    sid = params["SnapshotId"]
    if sid not in region.snapshots:
        raise not_found(sid)
    users = _images_using(region, sid)
    if users:
        raise Ec2Error("InvalidSnapshot.InUse", f"The snapshot {sid} is currently in use by {users[0]['id']}")
    del region.snapshots[sid]
    region.pending.pop(sid, None)
    return None


def _source_region(ctx, params):
    name = params["SourceRegion"]
    if not re.match(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$", name):
        raise Ec2Error("InvalidParameterValue", f"Value ({name}) for parameter sourceRegion is invalid.")
    src = ctx.state.region(name)
    src.settle()
    return src


def copy_snapshot(ctx, params):
    """Signed for the destination region: the copy lands in ctx.region."""
    src = _source_region(ctx, params)
    sid = params["SourceSnapshotId"]
    snap = src.snapshots.get(sid)
    if snap is None:
        raise not_found(sid)
    if snap["state"] != "completed":
        raise Ec2Error("IncorrectState", f"Snapshot {sid} is in state '{snap['state']}'; "
                                         "only a completed snapshot can be copied.")
    tags = tag_specifications(params, ("snapshot",)).get("snapshot", {})
    description = params.get("Description")
    if description is None:
        description = f"[Copied {sid} from {src.name}]"
    copy = _new_snapshot(ctx, ctx.region, COPIED_VOLUME_ID, snap["volume_size"], description, tags,
                         _now(), bool(params.get("Encrypted")) or snap["encrypted"])
    return {"SnapshotId": copy["id"], "Tags": tag_list(copy["tags"])}


# ---------------------------------------------------------------------------
# images

_AMI_NAME_RE = re.compile(r"^[A-Za-z0-9()\[\] ./\-'@_]{3,128}$")


def _check_name(region, name):
    if not _AMI_NAME_RE.match(name):
        raise Ec2Error("InvalidAMIName.Malformed",
                       "AMI names must be between 3 and 128 characters long, and may contain letters, "
                       "numbers, '(', ')', '.', '-', '/' and '_'")
    for img in region.images.values():
        if img["name"] == name:
            raise Ec2Error("InvalidAMIName.Duplicate", f"AMI name {name} is already in use by AMI {img['id']}")


def _new_image(ctx, region, aid, name, description, tags, bdm, architecture, root, source_instance=None):
    delay = ctx.state.setting("image_completion_s")
    now = _now()
    img = {
        "id": aid, "name": name, "description": description, "state": "pending", "creation_date": now,
        "owner_id": ctx.state.account_id, "owner_alias": None, "public": False,
        "architecture": architecture, "root_device_name": root, "block_devices": bdm,
        "source_instance_id": source_instance, "complete_at": now.timestamp() + delay, "tags": dict(tags),
    }
    region.images[aid] = img
    region.pending[aid] = "images"
    return img


def create_image(ctx, params):
    region = ctx.region
    inst = _usable_instance(region, params["InstanceId"])
    name = params["Name"]
    _check_name(region, name)
    specs = tag_specifications(params, ("image", "snapshot"))
    no_device = {m.get("DeviceName") for m in params.get("BlockDeviceMappings") or [] if "NoDevice" in m}
    aid = new_id("ami-", region.images)  # named by the snapshots' descriptions
    start = _now()
    bdm = []
    for dev, bd in inst["block_devices"].items():
        if dev in no_device:
            continue
        vol = region.volumes[bd["volume_id"]]
        snap = _new_snapshot(ctx, region, vol["id"], vol["size"],
                             f"Created by CreateImage({inst['id']}) for {aid}",
                             specs.get("snapshot", {}), start, vol["encrypted"])
        bdm.append({"device": dev, "snapshot_id": snap["id"], "volume_size": vol["size"],
                    "volume_type": vol["type"], "delete_on_termination": bd["delete_on_termination"],
                    "encrypted": vol["encrypted"]})
    _new_image(ctx, region, aid, name, params.get("Description"), specs.get("image", {}), bdm,
               inst["architecture"], inst["root_device"], inst["id"])
    return {"ImageId": aid}


def image_shape(ctx, img):
    return {
        "Architecture": img["architecture"],
        "CreationDate": img["creation_date"].strftime("%Y-%m-%dT%H:%M:%S.")
        + "%03dZ" % (img["creation_date"].microsecond // 1000),
        "ImageId": img["id"],
        "ImageLocation": f"{img['owner_id']}/{img['name']}",
        "ImageType": "machine",
        "Public": img["public"],
        "OwnerId": img["owner_id"],
        "ImageOwnerAlias": img.get("owner_alias"),
        "PlatformDetails": "Linux/UNIX",
        "UsageOperation": "RunInstances",
        "State": img["state"],
        "StateReason": ({"Code": "Client.Error", "Message": "Image creation failed (forced by cdpsim)"}
                        if img["state"] in ("failed", "error", "invalid") else None),
        "BlockDeviceMappings": [{"DeviceName": bd["device"], "Ebs": {
            "DeleteOnTermination": bd["delete_on_termination"], "SnapshotId": bd["snapshot_id"],
            "VolumeSize": bd["volume_size"], "VolumeType": bd["volume_type"], "Encrypted": bd["encrypted"]}}
            for bd in img["block_devices"]],
        "Description": img.get("description"),
        "EnaSupport": True,
        "Hypervisor": "xen",
        "Name": img["name"],
        "RootDeviceName": img["root_device_name"],
        "RootDeviceType": "ebs",
        "SriovNetSupport": "simple",
        "Tags": tag_list(img["tags"]),
        "VirtualizationType": "hvm",
    }


def describe_images(ctx, params):
    region = ctx.region
    ids = params.get("ImageIds")
    if ids:
        require_ids(region.images, ids)
        imgs = [region.images[i] for i in sorted(set(ids))]
    else:
        imgs = by_id(region.images)
    if params.get("Owners"):
        owned = owner_matcher(ctx, params["Owners"])
        imgs = [i for i in imgs if owned(i)]
    imgs = apply_filters(imgs, params.get("Filters"), {
        "image-id": lambda i: i["id"],
        "name": lambda i: i["name"],
        "state": lambda i: i["state"],
        "description": lambda i: i.get("description"),
        "owner-id": lambda i: i["owner_id"],
        "owner-alias": lambda i: i.get("owner_alias"),
        "architecture": lambda i: i["architecture"],
        "is-public": lambda i: i["public"],
        "image-type": lambda i: "machine",
        "root-device-name": lambda i: i["root_device_name"],
        "root-device-type": lambda i: "ebs",
        "block-device-mapping.snapshot-id": lambda i: [b["snapshot_id"] for b in i["block_devices"]],
        "block-device-mapping.device-name": lambda i: [b["device"] for b in i["block_devices"]],
        "block-device-mapping.volume-size": lambda i: [b["volume_size"] for b in i["block_devices"]],
        "creation-date": lambda i: image_shape(ctx, i)["CreationDate"],
    }, tags_of=lambda i: i["tags"])
    return {"Images": [image_shape(ctx, i) for i in imgs]}


def deregister_image(ctx, params):
    """Removes the AMI only: its snapshots stay (as in AWS)."""
    aid = params["ImageId"]
    if aid not in ctx.region.images:
        raise not_found(aid)
    del ctx.region.images[aid]
    ctx.region.pending.pop(aid, None)
    return None


def copy_image(ctx, params):
    src = _source_region(ctx, params)
    dst = ctx.region
    token = params.get("ClientToken")
    fingerprint = hashlib.sha256(json.dumps({k: v for k, v in params.items() if k != "DryRun"},
                                            sort_keys=True, default=str).encode()).hexdigest()
    if token:
        seen = ctx.state.client_tokens.get((dst.name, "CopyImage", token))
        if seen:
            if seen[0] != fingerprint:
                raise Ec2Error("IdempotentParameterMismatch",
                               "The client token you have provided is associated with a resource that "
                               "is already deleted or a request with different parameters.")
            return {"ImageId": seen[1]}
    aid = params["SourceImageId"]
    img = src.images.get(aid)
    if img is None:
        raise not_found(aid)
    if img["state"] != "available":
        raise Ec2Error("IncorrectState", f"Image {aid} is in state '{img['state']}'; "
                                         "only an available image can be copied.")
    _check_name(dst, params["Name"])
    new_aid = new_id("ami-", dst.images, src.images)
    start = _now()
    bdm = []
    for bd in img["block_devices"]:
        bd = dict(bd)
        if bd.get("snapshot_id"):
            snap = src.snapshots.get(bd["snapshot_id"])
            copy = _new_snapshot(ctx, dst, COPIED_VOLUME_ID, bd["volume_size"],
                                 f"Copied for DestinationAmi {new_aid} from SourceAmi {aid} for "
                                 f"SourceSnapshot {bd['snapshot_id']}. Task created on "
                                 f"{int(start.timestamp() * 1000)}.", {}, start,
                                 bool(params.get("Encrypted")) or bool(snap and snap["encrypted"]))
            bd["snapshot_id"] = copy["id"]
        bdm.append(bd)
    tags = dict(img["tags"]) if params.get("CopyImageTags") else {}
    _new_image(ctx, dst, new_aid, params["Name"], params.get("Description", img.get("description")), tags,
               bdm, img["architecture"], img["root_device_name"], img.get("source_instance_id"))
    if token:
        ctx.state.client_tokens[(dst.name, "CopyImage", token)] = (fingerprint, new_aid)
    return {"ImageId": new_aid}


ACTIONS = {
    "DescribeVolumes": describe_volumes,
    "CreateSnapshots": create_snapshots,
    "CreateSnapshot": create_snapshot,
    "DescribeSnapshots": describe_snapshots,
    "DeleteSnapshot": delete_snapshot,
    "CopySnapshot": copy_snapshot,
    "CreateImage": create_image,
    "DescribeImages": describe_images,
    "DeregisterImage": deregister_image,
    "CopyImage": copy_image,
}
