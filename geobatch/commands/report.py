"""`geobatch report OUT_DIR`: write one self-contained HTML report of a run's output."""

from __future__ import annotations

import click


@click.command()
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="HTML file to write (default: OUT_DIR/report.html).")
def command(out_dir, output):
    """Write an HTML report of OUT_DIR: metrics, confusion matrix, confidence histogram, labels,
    top places and an offline map. The file needs no network to view."""
    from ..evaluate.report import write_report

    path = write_report(out_dir, output)
    click.echo(f"report: {path}")
    return 0
