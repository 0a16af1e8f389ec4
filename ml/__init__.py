"""Pure ML core shared by training and serving.

No Django imports anywhere in this package. ``ml.images`` needs only Pillow and
NumPy, so the web process may use it to validate uploads; every other module
imports Keras and must only be imported by worker processes.
"""
