"""`geobatch job run SPEC.toml`: run a scheduled job described by a TOML spec (see geobatch/jobspec.py)."""

from __future__ import annotations

import re

import click

from ..errors import GeobatchError
from ..jobspec import command_line, load_job_spec, lookup_command, option_table, report_arguments, run_arguments


def _invoke(name: str, cmd: click.Command, args: list[str]):
    # standalone_mode=False: errors propagate to geobatch's main(), which prints them as one line
    return cmd.main(args=args, prog_name=f"geobatch {name}", standalone_mode=False)


_TOP_LEVEL = {"model": "model", "input": "inputs", "output": "output"}


def in_spec_terms(e: GeobatchError, spec_name: str, run_options) -> GeobatchError:
    """A run's advice names its command-line flags; a job's user sets the spec's keys instead:
    "pass --overwrite" is `overwrite = true` under [options], `--text-column` the key text-column,
    `--input` the top-level key inputs."""
    named = False

    def key(m: re.Match) -> str:
        nonlocal named
        verb, flag = m.group(1), m.group(2)
        if flag in _TOP_LEVEL:
            named = True
            return f"{verb or ''}{_TOP_LEVEL[flag]}"
        if flag not in run_options:
            return m.group(0)
        if run_options[flag][1] is not None:  # a switch: what the spec says is `name = true`
            return f"{'set ' if verb else ''}{flag} = true under [options] in {spec_name}"
        named = True
        return f"{verb or ''}{flag}"

    for attr in ("problem", "fix"):
        text = getattr(e, attr)
        if text:
            setattr(e, attr, re.sub(r"(pass )?--([a-z][a-z0-9-]*)", key, text))
    if named:
        e.fix = f"{e.fix or 'fix it'} (keys of {spec_name}: model, inputs, output at the top, the rest under [options])"
    return e


@click.group(name="job")
def command():
    """Run scheduled job specs (TOML)."""


@command.command(name="run")
@click.argument("spec", type=click.Path())  # a directory: load_job_spec says so in one line
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
            if name != "run":  # report's --output is the spec's report, and its advice is its own
                raise
            raise in_spec_terms(e, job.path.name, option_table(run_cmd)) from None
        if isinstance(rv, int) and rv != 0:
            return rv
    return 0
