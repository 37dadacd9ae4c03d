"""geobatch: a batch document geoparser.

Data flows read → tokenize → infer → decode → resolve → write; each stage is a module of its own.
Importing geobatch never imports TensorFlow: the runtime needs only ONNX Runtime and tokenizers.
"""

__version__ = "0.1.0"
