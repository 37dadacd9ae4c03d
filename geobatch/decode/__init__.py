"""Stage decode: logits -> per-word tags and confidences -> labelled character spans.

`spans` is the per-word reference; `arrays` does the same for a whole chunk with array operations
(the one `Pipeline` uses); tests/test_decode.py checks that they agree.
"""
