"""The interaction layer: acknowledgement, replies, the command tree, the caller."""
