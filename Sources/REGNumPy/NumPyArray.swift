// .npy reading and writing: filled in by the `reg` command issue.
