"""An armature's rest data (read from Blender by a thin adapter, or built in tests) and bone maps."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..capture.errors import RigError

# Finger roles, named like the Rigify metarig's bones: three per finger (thumb: metacarpal, proximal,
# distal; fingers: proximal, middle, distal phalanges), posed from hand landmarks (retarget/hands.py).
# Palm bones (metarig palm.01–04, metacarpals) have no role: they stay at rest.
FINGERS = ("thumb", "f_index", "f_middle", "f_ring", "f_pinky")
FINGER_ROLES = tuple(f"{f}.0{k}.{S}" for S in "LR" for f in FINGERS for k in (1, 2, 3))
# Roles the solver knows. Torso: hips → (spine bones) → chest → neck → head.
ROLES = (
    "hips", "chest", "neck", "head",
    "upper_arm.L", "forearm.L", "hand.L", "upper_arm.R", "forearm.R", "hand.R",
    "thigh.L", "shin.L", "foot.L", "thigh.R", "shin.R", "foot.R",
    # Helpers, not posed themselves (no landmark sees them bend): they tell where the rig's toe tips,
    # knuckles, heels and face are, for reading its rest pose.
    "toe.L", "toe.R", "index.L", "pinky.L", "index.R", "pinky.R", "heel.L", "heel.R", "ear.L", "ear.R", "nose",
    "torso",  # the control that carries the body's translation when the hips bone does not (Rigify)
    "root",   # a ground-level root bone (Unreal, Rigify) for root motion
) + FINGER_ROLES
POSED_ROLES = ROLES[:16]


@dataclass
class RestBone:
    name: str
    parent: str | None
    matrix: np.ndarray   # 4x4 rest matrix in armature space (Blender's bone.matrix_local)
    head: np.ndarray     # armature space
    tail: np.ndarray

    @property
    def rotation(self) -> np.ndarray:
        return self.matrix[:3, :3]

    @property
    def length(self) -> float:
        return float(np.linalg.norm(self.tail - self.head))


@dataclass
class RestPose:
    bones: dict[str, RestBone] = field(default_factory=dict)  # parents before children

    def chain(self, child: str, ancestor: str) -> list[str]:
        """Bones strictly between ancestor and child on child's parent path, ancestor-side first."""
        path, name = [], self.bones[child].parent
        while name is not None and name != ancestor:
            path.append(name)
            name = self.bones[name].parent
        if name != ancestor:
            raise RigError(f"'{ancestor}' is not a parent of '{child}'")
        return path[::-1]

    def is_ancestor(self, ancestor: str, bone: str) -> bool:
        name = self.bones[bone].parent
        while name is not None:
            if name == ancestor:
                return True
            name = self.bones[name].parent if name in self.bones else None
        return False

    def ordered(self) -> list[str]:
        """Bone names with every parent before its children."""
        done: list[str] = []
        seen: set[str] = set()

        def visit(name):
            if name in seen:
                return
            parent = self.bones[name].parent
            if parent is not None and parent in self.bones:
                visit(parent)
            seen.add(name)
            done.append(name)

        for name in self.bones:
            visit(name)
        return done


def resolve_bone_map(rest: RestPose, bone_map: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Keep the roles whose bones exist; return (usable map, roles that are missing)."""
    unknown = [r for r in bone_map if r not in ROLES]
    if unknown:
        raise RigError(f"Unknown role(s) in bone map: {', '.join(unknown)}")
    usable = {role: bone for role, bone in bone_map.items() if bone in rest.bones}
    for side in "LR":  # the knuckles the hand frame is read from: the fingers' first bones when mapped
        for helper, finger in (("index", "f_index"), ("pinky", "f_pinky")):
            if f"{helper}.{side}" not in usable and f"{finger}.01.{side}" in usable:
                usable[f"{helper}.{side}"] = usable[f"{finger}.01.{side}"]
    missing = [role for role in POSED_ROLES if role not in usable]
    if "hips" not in usable:
        raise RigError("The armature has no hips bone in the bone map, so it cannot be posed. "
                       "Pick a humanoid armature or edit the bone map.")
    return usable, missing
