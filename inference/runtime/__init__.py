"""Worker-side serving (imports Keras/TensorFlow): only inference workers import this."""
