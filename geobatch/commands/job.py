"""`geobatch job run SPEC.toml`: run a scheduled job described by a TOML spec (see geobatch/jobspec.py)."""

from __future__ import annotations

import click

from ..errors import GeobatchError
from ..jobspec import command_line, load_job_spec, lookup_command, report_arguments, run_arguments


def _invoke(name: str, cmd: click.Command, args: list[str]):
    # standalone_mode=False: errors propagate to geobatch's main(), which prints them as one line
    return cmd.main(args=args, prog_name=f"geobatch {name}", standalone_mode=False)


def in_spec_terms(e: GeobatchError, spec_name: str) -> GeobatchError:
    """A run's advice names its command-line flag; a job's user sets the spec key instead."""
    for attr in ("problem", "fix"):
        text = getattr(e, attr)
        if text and "--overwrite" in text:
            text = text.replace("pass --overwrite", f"set overwrite = true under [options] in {spec_name}")
            setattr(e, attr, text.replace("--overwrite", "overwrite = true"))
    return e


@click.group(name="job")
def command():
    """Run scheduled job specs (TOML)."""


@command.command(name="run")
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Print the commands the spec stands for and exit.")
def run_job(spec: str, dry_run: bool):
    """Run the job in SPEC: `geobatch run` with the spec's model, inputs, output and [options],
    then `geobatch report` when the spec sets `report`.

    Relative paths in the spec resolve against the spec file's directory, so a job runs the same
    from cron, systemd or a shell in any directory.
    """
    job = load_job_spec(spec)
    run_cmd = lookup_command("run")
    args = run_arguments(job, run_cmd)
    rep_args = report_arguments(job)
    steps = [("run", args)] + ([("report", rep_args)] if rep_args is not None else [])
    if dry_run:
        for name, a in steps:
            click.echo(command_line(name, a))
        return 0
    for name, a in steps:
        click.echo(f"job {job.path.name}: {command_line(name, a)}", err=True)
        try:
            rv = _invoke(name, run_cmd if name == "run" else lookup_command(name), a)
        except GeobatchError as e:
            raise in_spec_terms(e, job.path.name) from None
        if isinstance(rv, int) and rv != 0:
            return rv
    return 0
