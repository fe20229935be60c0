"""Deploying: a trained network, and a command-line model with its preprocessing, as one ONNX graph
(:mod:`.onnx`)."""
