"""Stage read and stage write: everything that touches files on disk.

Reading: `corpus` streams inputs as chunks of records (`documents`: the records a reader yields,
`readers`: word-per-row GMB/CoNLL and span-annotated files); `fingerprint` identifies inputs by content.
Writing: `write` lands Parquet parts atomically; `commit` (with `journal` and `lock`) is the output
directory's commit protocol: one writer, finished units recorded, resume.
"""
