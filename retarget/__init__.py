"""`PoseTrack` + bone map + rest pose → per-frame bone rotations. numpy only; never imports bpy."""
