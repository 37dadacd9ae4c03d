"""geobatch: a batch document geoparser.

Data flows read → tokenize → infer → decode → resolve → write; each stage is a package of its own:
io (read and write), text (tokenize), model (infer), decode, resolve; evaluate scores what a run wrote.
Importing geobatch never imports TensorFlow: the runtime needs only ONNX Runtime and tokenizers.
"""

__version__ = "0.1.0"
