"""Scheduled job specs: a TOML file that says what `geobatch run` should do, so a nightly job is a file.

    model = "../runs/demo/model"          # relative paths resolve against the spec file's directory
    inputs = ["../data/sample_corpus.parquet"]
    output = "../runs/nightly/out"
    report = true                          # optional: also write OUT/report.html (or give a path)

    [options]                              # keys are `geobatch run`'s long option names, without "--"
    spans-column = "spans"
    batch-size = 32
    resolve = false                        # a --x/--no-x switch takes true/false

The spec becomes an argument list for the real `run` click command, found through the CLI group, so
the options a spec accepts are exactly the options `geobatch run --help` lists: nothing is duplicated
here, and an unknown key is an error that lists the valid ones.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from .errors import GeobatchError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

TOP_LEVEL_KEYS = ("model", "inputs", "output", "report", "options")
# spec key -> the run command's parameter name (click's `param.name`)
_TOP_LEVEL_PARAMS = {"model": ("model",), "inputs": ("input", "inputs"), "output": ("output",)}


@dataclass
class JobSpec:
    path: Path
    model: str
    inputs: list[str]
    output: str
    report: str | None = None  # path of the HTML report, None for no report
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def base_dir(self) -> Path:
        return self.path.parent


def _resolve_path(base: Path, value: str) -> str:
    """Relative to the spec's directory; absolute, `~` and URL-like (s3://) values are kept."""
    if "://" in value:
        return value
    p = Path(value).expanduser()
    # normpath only tidies "jobs/../data" for logs; base is already a resolved absolute path
    return os.path.normpath(p if p.is_absolute() else (base / p))


def load_job_spec(path: str | Path) -> JobSpec:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise GeobatchError(f"cannot read job spec {p}: {e.strerror}", "give the path of a TOML job spec such as jobs/nightly.toml") from None
    try:
        # utf-8-sig: editors on Windows save a byte-order mark, which tomllib reads as a bad statement at line 1
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise GeobatchError(f"job spec {p} is not valid TOML ({e})", "fix the file; see jobs/nightly.toml for the layout") from None

    unknown = [k for k in data if k not in TOP_LEVEL_KEYS]
    if unknown:
        raise GeobatchError(
            f"job spec {p} has unknown top-level key(s) {', '.join(unknown)}",
            f"use {', '.join(TOP_LEVEL_KEYS)}; run options go in the [options] table",
        )
    missing = [k for k in ("model", "inputs", "output") if k not in data]
    if missing:
        raise GeobatchError(f"job spec {p} lacks {', '.join(missing)}", 'give model = "...", inputs = ["..."] and output = "..."')

    def text(key: str) -> str:
        v = data[key]
        if not isinstance(v, str) or not v:
            raise GeobatchError(f"job spec {p}: {key} must be a non-empty string, not {v!r}", f'write {key} = "path"')
        return v

    inputs = data["inputs"]
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, list) or not inputs or not all(isinstance(i, str) and i for i in inputs):
        raise GeobatchError(f"job spec {p}: inputs must be a non-empty list of paths, not {data['inputs']!r}", 'write inputs = ["data/*.parquet"]')
    options = data.get("options", {})
    if not isinstance(options, dict):
        raise GeobatchError(f"job spec {p}: options must be a table", "write the run options under an [options] header")

    base = p.resolve().parent
    output = _resolve_path(base, text("output"))
    report = data.get("report", False)
    if report is True:
        report_path: str | None = str(Path(output) / "report.html")
    elif report is False:
        report_path = None
    elif isinstance(report, str) and report:
        report_path = _resolve_path(base, report)
        _check_report_path(p, report_path, output)  # now, not after a night's run
    else:
        raise GeobatchError(f"job spec {p}: report must be true, false or a path, not {report!r}", "write report = true")

    return JobSpec(
        path=p.resolve(),
        model=_resolve_path(base, text("model")),
        inputs=[_resolve_path(base, i) for i in inputs],
        output=output,
        report=report_path,
        options=dict(options),
    )


def _check_report_path(spec: Path, report: str, output: str) -> None:
    from .io.commit import clashes_with_output

    clash = clashes_with_output(output, report)
    if clash:
        raise GeobatchError(f"job spec {spec}: report {report} {clash}", 'write report = true (OUTPUT/report.html) or a path outside the output')
    r = Path(report)
    if r.is_dir():
        raise GeobatchError(f"job spec {spec}: report {report} is a directory", "give a file path for the report, e.g. report = \"runs/report.html\"")
    from .io.write import file_in_the_way

    blocker = file_in_the_way(r)
    if blocker is not None:
        raise GeobatchError(f"job spec {spec}: report {report} cannot be written: {blocker} is a file", "give a report path under a folder")


def _long_name(opt: str) -> str:
    return opt[2:] if opt.startswith("--") else opt.lstrip("-")


def _is_path_param(param: click.Parameter) -> bool:
    return isinstance(param.type, (click.Path, click.File))


def option_table(command: click.Command) -> dict[str, tuple[click.Parameter, str | None]]:
    """Spec key -> (parameter, the exact flag to emit for `true`, or None for options taking a value).

    Keys are long option names without "--" (`batch-size`, `no-resolve`), as `geobatch run --help` shows.
    """
    table: dict[str, tuple[click.Parameter, str | None]] = {}
    for param in command.params:
        if not isinstance(param, click.Option) or param.hidden:
            continue
        longs = [o for o in param.opts if o.startswith("--")] or list(param.opts)
        if param.is_flag:
            for o in longs:
                table[_long_name(o)] = (param, o)
            for o in param.secondary_opts:
                if o.startswith("--"):
                    table[_long_name(o)] = (param, o)
        else:
            for o in longs:
                table[_long_name(o)] = (param, None)
    # --help and --version are not options of a job
    for k in ("help", "version"):
        table.pop(k, None)
    return table


def _find_param(command: click.Command, names: tuple[str, ...]) -> click.Parameter | None:
    for param in command.params:
        if param.name in names:
            return param
    return None


def _emit(param: click.Parameter, flag: str, values: list[str], key: str | None = None) -> list[str]:
    if isinstance(param, click.Argument):
        return list(values)
    if param.multiple:
        return [a for v in values for a in (flag, v)]
    if param.nargs > 1 or param.nargs == -1:
        return [flag, *values]
    if len(values) != 1:
        name = f"option {key!r}" if key else flag.lstrip("-")
        raise GeobatchError(f"job spec: {name} takes one value, not a list of {len(values)}", f"write {key or flag.lstrip('-')} = one value")
    return [flag, values[0]]


def _primary_flag(param: click.Parameter) -> str:
    return ([o for o in param.opts if o.startswith("--")] or list(param.opts))[0]


def run_arguments(spec: JobSpec, command: click.Command) -> list[str]:
    """The argument list for the `run` command, built from the spec by introspecting its parameters."""
    args: list[str] = []
    for key, names in _TOP_LEVEL_PARAMS.items():
        param = _find_param(command, names)
        if param is None:
            raise GeobatchError(f"the run command has no parameter for the spec's {key}", "update geobatch or the job spec")
        values = spec.inputs if key == "inputs" else [getattr(spec, key)]
        args += _emit(param, _primary_flag(param) if isinstance(param, click.Option) else "", values)

    table = option_table(command)
    reserved = {k for k, (p, _) in table.items() if p.name in {n for ns in _TOP_LEVEL_PARAMS.values() for n in ns}}
    valid = sorted(k for k in table if k not in reserved)
    for key, value in spec.options.items():
        key_norm = key[2:] if key.startswith("--") else key
        if key_norm in reserved:
            raise GeobatchError(
                f"job spec {spec.path.name}: [options] sets {key!r}, which is a top-level key of the spec",
                "set model, inputs and output at the top of the file",
            )
        if key_norm not in table:
            raise GeobatchError(
                f"job spec {spec.path.name}: unknown option {key!r} in [options]",
                f"valid options are: {', '.join(valid)}",
            )
        param, flag = table[key_norm]
        if flag is not None:  # a flag or one side of a --x/--no-x switch
            if not isinstance(value, bool):
                raise GeobatchError(f"job spec {spec.path.name}: option {key!r} is a switch, give true or false, not {value!r}", f"write {key} = true")
            if value:
                args.append(flag)
            elif param.secondary_opts:  # false on one side means the other side
                other = param.secondary_opts[0] if flag in param.opts else _primary_flag(param)
                args.append(other)
            continue
        values = value if isinstance(value, list) else [value]
        # a table or a boolean, alone or inside a list, would reach run as its Python text ("{'a': 1}")
        if any(isinstance(v, (bool, dict, list)) for v in values):
            raise GeobatchError(f"job spec {spec.path.name}: option {key!r} takes a value, not {value!r}", f"see geobatch run --help for --{key_norm}")
        values = [str(v) for v in values]
        if _is_path_param(param):
            values = [_resolve_path(spec.base_dir, v) for v in values]
        else:  # checked here, so that a bad value names the spec's line instead of printing run's usage block
            for v in values:
                try:
                    param.type.convert(v, param, None)
                except click.BadParameter as e:
                    raise GeobatchError(f"job spec {spec.path.name}: [options] {key} = {value!r}: {e.format_message()}",
                                        f"fix the value in the spec; see geobatch run --help for --{key_norm}") from None
        args += _emit(param, f"--{key_norm}", values, key)
    return args


def lookup_command(name: str) -> click.Command:
    """A subcommand of the real CLI group (imported lazily, as `geobatch NAME` would)."""
    from .cli import cli

    ctx = click.Context(cli)
    try:
        cmd = cli.get_command(ctx, name)
    except ModuleNotFoundError as e:
        raise GeobatchError(f"`geobatch {name}` is not available in this installation ({e.name} is missing)", "reinstall geobatch") from None
    if cmd is None:
        raise GeobatchError(f"`geobatch {name}` does not exist", "update geobatch")
    return cmd


def report_arguments(spec: JobSpec) -> list[str] | None:
    if spec.report is None:
        return None
    return [spec.output, "--output", spec.report]


def command_line(name: str, args: list[str]) -> str:
    return shlex.join(["geobatch", name, *args])
