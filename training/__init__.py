"""Datasets, fine-tune jobs and the trainer (runtime/, worker-side only)."""
