"""Stage infer: the model directory and what runs it.

`model_dir` loads and checks a MODEL_DIR, `variants` picks which of its variants runs, `infer` holds
the ONNX Runtime session, and `optimize` (`geobatch optimize`) writes those variants.
"""
