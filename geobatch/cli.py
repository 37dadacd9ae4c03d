"""The `geobatch` command line.

Each subcommand lives in `geobatch/commands/<name>.py` as a click command named `command` and is
imported only when invoked, so `geobatch run` never loads TensorFlow and `geobatch --help` is instant.
"""

from __future__ import annotations

import importlib
import sys

import click

from . import __version__
from .errors import GeobatchError
from .stop import EXIT_SIGINT, EXIT_SIGTERM, Interrupted, Terminated, sigterm_raises

# name -> (module, one-line help shown by `geobatch --help` without importing the module)
SUBCOMMANDS = {
    "train": ("geobatch.commands.train", "Fine-tune a BERT token classifier (needs the [train] extra)."),
    "export": ("geobatch.commands.export", "Export a checkpoint to a parity-checked ONNX model directory."),
    "run": ("geobatch.commands.run", "Tag, decode, resolve and write a corpus to Parquet."),
    "resolve": ("geobatch.commands.resolve", "Resolve given (gold) spans to coordinates."),
    "optimize": ("geobatch.commands.optimize", "Fuse, quantize or convert a model directory."),
    "report": ("geobatch.commands.report", "Write a self-contained HTML report of a run."),
    "job": ("geobatch.commands.job", "Run scheduled job specs (TOML)."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return list(SUBCOMMANDS)

    def get_command(self, ctx, name):
        if name not in SUBCOMMANDS:
            return None
        module = importlib.import_module(SUBCOMMANDS[name][0])
        return module.command

    def format_commands(self, ctx, formatter):
        rows = [(name, help_) for name, (_, help_) in SUBCOMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="geobatch")
def cli():
    """geobatch: batch geoparsing of document corpora to Parquet."""


def main(argv=None) -> int:
    """Entry point: user mistakes become one line on stderr and exit code 2, never a traceback."""
    try:
        with sigterm_raises():  # SIGTERM unwinds like Ctrl-C, so a run closes OUT_DIR and says what it kept
            rv = cli.main(args=argv, prog_name="geobatch", standalone_mode=False)
    except GeobatchError as e:
        click.echo(f"error: {e}", err=True)
        return e.exit_code
    except Interrupted as e:  # a run stopped by a signal: how many units are kept, and that rerunning resumes
        click.echo(str(e), err=True)
        return e.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):  # click turns Ctrl-C into Abort
        click.echo("interrupted by SIGINT", err=True)
        return EXIT_SIGINT
    except Terminated:
        click.echo("terminated by SIGTERM", err=True)
        return EXIT_SIGTERM
    except click.ClickException as e:
        e.show()
        return e.exit_code
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":
    sys.exit(main())
