"""Writes for datasets and fine-tune jobs (services: tenant first, atomic, audited).

``datasets``: upload, validation, deletion.  ``fine_tunes``: job creation.
``lifecycle``: the job state machine shared by the API and the training worker.
"""
