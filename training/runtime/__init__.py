"""The trainer: worker side only (imports TensorFlow).  Never import it from the web."""
