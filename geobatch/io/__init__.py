"""Stage read and stage write: everything that touches files on disk.

Reading: `inputs` says which files and in which format, `check` opens each up front, `corpus` streams
them as chunks of records (`documents`: the records a reader yields, `readers`: word-per-row GMB/CoNLL
and span-annotated files); `fingerprint` identifies inputs by content.
Writing: `write` lands Parquet parts atomically; `commit` (with `journal` and `lock`) is the output
directory's commit protocol: one writer, finished units recorded, resume.
"""
