"""Motion quality: offline filtering of landmark tracks and solved rotations. numpy only; never imports bpy."""
