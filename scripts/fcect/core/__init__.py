"""Shared foundations of every stage: participants, path patterns, vocabulary, images, atlas, clusters, io, html."""
