"""The thin Blender layer below operators/ and ui/: read rigs, write actions, export. Imports bpy."""
