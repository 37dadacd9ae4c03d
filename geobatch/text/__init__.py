"""Stage tokenize: texts become model batches.

`words` cuts text into words with character offsets, `prepare` turns a chunk's records into
`DocInput`s, `tokenize` makes wordpieces and sliding windows, `batching` groups windows into batches.
"""
