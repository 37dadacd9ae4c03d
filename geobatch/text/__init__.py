"""Stage tokenize: texts become model batches.

`words` cuts text into words with character offsets, `prepare` turns a chunk's records into
`DocInput`s, `tokenize` makes wordpieces and sliding windows, `case_types` says which words start with a capital
(for a model trained to read it), `batching` groups windows into batches.
"""
