"""Readers for annotated data: word-per-row GMB CSV, CoNLL, and span-annotated documents.

Training and evaluation share these, so they live in the runtime package (no TensorFlow here).
"""

from .conll import read_conll
from .gmb import read_gmb
from .spans import read_span_documents, span_documents_from_records

__all__ = ["read_gmb", "read_conll", "read_span_documents", "span_documents_from_records"]
