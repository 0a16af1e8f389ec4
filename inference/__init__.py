"""Model registry and serving API; runtime/ holds the worker-side engine (TensorFlow)."""
