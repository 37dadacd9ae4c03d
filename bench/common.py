"""What the bench scripts share: where the checkout is, a parser whose --help is the script's docstring, and
the JSONL writer for the document sets they run `geobatch run` on.

Importing it puts the checkout on sys.path, so a script runs from a clone without installing geobatch
(`python bench/NAME.py`: Python already puts bench/ itself first on sys.path).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def doc_parser(doc: str) -> argparse.ArgumentParser:
    """First paragraph of the module docstring as the description, the rest as the epilog (verbatim)."""
    head, *rest = doc.split("\n\n")
    return argparse.ArgumentParser(description=head, epilog="\n\n".join(rest) or None,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def write_jsonl(path: Path, docs: list[dict]) -> Path:
    """One JSON document per line (UTF-8, characters as they are): the sets the scripts hand to `geobatch run`."""
    path.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs), encoding="utf-8")
    return path
