"""Forward kinematics on a `RestPose`: local rotations → armature-space bone matrices. For tests,
benchmarks and drawing; mirrors Blender's pose evaluation for rotation-only poses."""
from __future__ import annotations

import numpy as np

from .rig import RestPose
from .rotations import quaternion_to_matrix


def pose_matrices(rest: RestPose, local_quats: dict[str, np.ndarray], frames: int,
                  root_offset: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """(T,4,4) armature-space matrices of every bone: parent · rest_parent⁻¹ · rest · basis."""
    out: dict[str, np.ndarray] = {}
    for name in rest.ordered():
        bone = rest.bones[name]
        basis = np.broadcast_to(np.eye(4), (frames, 4, 4)).copy()
        if name in local_quats:
            basis[:, :3, :3] = quaternion_to_matrix(local_quats[name])
        parent = bone.parent if bone.parent in rest.bones else None
        if parent is None:
            m = bone.matrix @ basis
            if root_offset is not None:
                m[:, :3, 3] += root_offset
        else:
            m = out[parent] @ np.linalg.inv(rest.bones[parent].matrix) @ bone.matrix @ basis
        out[name] = m
    return out


def heads_tails(rest: RestPose, matrices: dict[str, np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per bone (T,3) head and tail positions from its pose matrices (bone's Y axis × length)."""
    return {name: (m[:, :3, 3], m[:, :3, 3] + m[:, :3, 1] * rest.bones[name].length)
            for name, m in matrices.items()}
