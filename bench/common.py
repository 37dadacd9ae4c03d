"""What the bench scripts share: a parser whose --help is the script's own docstring."""

from __future__ import annotations

import argparse


def doc_parser(doc: str) -> argparse.ArgumentParser:
    """First paragraph of the module docstring as the description, the rest as the epilog (verbatim)."""
    head, *rest = doc.split("\n\n")
    return argparse.ArgumentParser(description=head, epilog="\n\n".join(rest) or None,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
