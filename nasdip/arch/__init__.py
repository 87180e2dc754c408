"""Architectures: the versioned JSON document, search spaces, presets and the network builder."""
