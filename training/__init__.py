"""Training of the ``plate_rec`` recogniser (see ``docs/recogniser.md``).

Runs in a separate virtual environment with torch (never a runtime dependency of the product);
the trained model is exported to ONNX and read by ``ocr.plate_rec``.
"""
