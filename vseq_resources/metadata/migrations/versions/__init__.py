"""The revisions, oldest first: 0001 is the reference schema as production has it."""
