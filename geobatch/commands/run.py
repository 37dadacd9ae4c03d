"""`geobatch run`: tag a corpus with an ONNX model directory and write Parquet under OUT_DIR.

Exit codes: 0 every row ok/empty (or errors within --max-error-rate), 1 rows errored beyond it or
the output could not be written, 2 a usage problem (bad option, input or model; nothing committed).
"""

from __future__ import annotations

import click

from ..engines import ENGINES
from ..errors import GeobatchError
from ..io.inputs import FORMATS
from ..model.infer import PROVIDERS


@click.command("run")
@click.option("--model", "model", required=True, type=click.Path(), help="Model directory (model.onnx, tokenizer.json, model_card.json).")
@click.option("--input", "inputs", required=True, multiple=True, help="File, directory or glob; repeat for more.")
@click.option("--output", required=True, type=click.Path(), help="Output directory (OUT_DIR).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None, help="Input format (default: from the extension).")
@click.option("--text-column", default="text", show_default=True)
@click.option("--id-column", default="id", show_default=True, help="Absent from the input: the row number is the id.")
@click.option("--spans-column", default=None, help="Gold spans column (list of {start,end,label} or its JSON): enables metrics.")
@click.option("--span-label", default=None, help="Label for gold spans that carry none (default: they count as a location).")
@click.option("--batch-size", default=32, show_default=True, type=int, help="Windows per model call.")
@click.option("--max-length", default=None, type=int, help="Wordpieces per window incl. [CLS]/[SEP] (default: the model card's).")
@click.option("--stride", default=None, type=int, help="Overlap between windows of a long document, wordpieces (default: a quarter window).")
@click.option("--provider", type=click.Choice(PROVIDERS), default="auto", show_default=True)
@click.option("--variant", default="auto", show_default=True,
              help="Which graph of MODEL_DIR: auto (the card's default for the provider, else fp32), fp32 (as exported), "
                   "or a name from `geobatch optimize --variant` (docs/OPTIMIZE.md).")
@click.option("--threads", default=None, type=int, help="ONNX Runtime intra-op threads (default: ORT's choice).")
@click.option("--chunk-size", default=1000, show_default=True, type=int, help="Records per unit of work (part file, resume step).")
@click.option("--location-labels", default=None,
              help="Entity types that are places: merged into 'location' for scoring and looked up in the gazetteer "
                   "[default: the model's place types: geo,gpe (GMB), LOC (CoNLL); all types of a scheme of your own, e.g. tar,inc].")
@click.option("--convention", default=None,
              help="Annotation convention to follow, for a model trained with several (its card's `conventions`, e.g. "
                   "news, geowebnews, gmb; docs/TRAINING.md) [default: the card's default].")
@click.option("--max-error-rate", default=0.0, show_default=True, type=float, help="Share of error rows tolerated before exit code 1.")
@click.option("--overwrite", is_flag=True, help="Replace OUT_DIR's output from another job instead of refusing.")
@click.option("--no-resolve", is_flag=True, help="Skip toponym resolution (resolver columns stay null).")
@click.option("--focus-fallback/--no-focus-fallback", default=False, show_default=True,
              help="Place spans the gazetteer lacks at their document's focus (resolved_by=document_focus, "
                   "geonameid null); off: they stay null and docs/ keeps the focus.")
@click.option("--quiet", is_flag=True, help="No progress, notes or summary; errors only.")
@click.option("--engine", type=click.Choice(ENGINES), default="local", show_default=True,
              help="local: this process; ray: a pool of Ray actors (extra [ray]), see docs/RAY.md.")
@click.option("--address", default=None, help="Ray cluster to join (HOST:6379 or ray://HOST:10001); default: a local Ray instance. --engine ray only.")
@click.option("--workers", default=None, type=int,
              help="Processes that tag, one model session each; local: default 1, CPU threads divided among them "
                   "(docs/ARCHITECTURE.md, 'Workers'); ray: actors, default 2.")
@click.option("--gpus-per-worker", default=None, type=float, help="GPUs per Ray actor, fractions allowed (default 0). --engine ray only.")
def command(model, inputs, output, fmt, text_column, id_column, spans_column, span_label, batch_size, max_length, stride,
            provider, variant, threads, chunk_size, location_labels, convention, max_error_rate, overwrite, no_resolve, focus_fallback, quiet,
            engine, address, workers, gpus_per_worker):
    """Tag, decode, resolve and write a corpus to Parquet (docs/, tokens/, spans/, manifest.json)."""
    from ..engines import RunConfig
    from ..engines.local import run_local
    from ..pipeline import PipelineOptions

    if chunk_size < 1:
        raise GeobatchError("--chunk-size must be at least 1", "pass a positive number of records")
    if batch_size < 1:
        raise GeobatchError("--batch-size must be at least 1", "pass a positive number of windows")
    if threads is not None and threads < 1:
        raise GeobatchError("--threads must be at least 1", "pass a positive number or leave it out")
    if not 0.0 <= max_error_rate <= 1.0:
        raise GeobatchError("--max-error-rate must be between 0 and 1", "e.g. --max-error-rate 0.01 tolerates 1% error rows")
    labels = tuple(x.strip() for x in location_labels.split(",") if x.strip()) if location_labels else None
    # Ray actors with GPUs run ORT's CUDA provider (auto means cuda there), whatever the driver has
    model = _pick_variant(model, variant, "cuda" if engine == "ray" and gpus_per_worker else provider, quiet)
    config = RunConfig(
        model=model, inputs=list(inputs), output=output, format=fmt,
        pipeline=PipelineOptions(
            text_column=text_column, id_column=id_column or None, spans_column=spans_column, span_label=span_label,
            batch_size=batch_size, max_length=max_length, stride=stride, provider=provider, threads=threads,
            location_labels=labels, convention=convention,
        ),
        chunk_size=chunk_size, overwrite=overwrite, max_error_rate=max_error_rate, quiet=quiet, resolve=not no_resolve,
        focus_fallback=focus_fallback,
    )
    ray_only = [n for n, v in (("--address", address), ("--gpus-per-worker", gpus_per_worker)) if v is not None]
    if engine == "ray":
        from ..engines.ray import RayOptions, run_ray

        summary = run_ray(config, RayOptions(address=address, workers=2 if workers is None else workers,
                                             gpus_per_worker=gpus_per_worker or 0.0))
    elif ray_only:
        raise GeobatchError(f"{', '.join(ray_only)} only apply to --engine ray", "add --engine ray, or leave them out")
    else:
        config.workers = 1 if workers is None else workers
        summary = run_local(config)
    if not quiet:
        click.echo(summary.text)
    elif summary.exit_code:  # --quiet keeps errors: a job that fails on its error rows still says why
        from ..engines.summary import failure_line

        click.echo(failure_line(summary.manifest, output), err=True)
    return summary.exit_code


def _pick_variant(model: str, variant: str, provider: str, quiet: bool) -> str:
    """MODEL_DIR, or the variant directory inside it that --variant (auto: the card's default) names."""
    from ..model.variants import FP32, resolve_variant

    on_cuda = provider == "cuda"
    if provider == "auto":
        from ..model.infer import cuda_usable

        on_cuda = cuda_usable()
    choice = resolve_variant(model, variant, on_cuda)
    if not quiet and (choice.name != FP32 or variant != "auto"):
        click.echo(f"note: model variant {choice.name} ({choice.reason}): {choice.path}", err=True)
    return str(choice.path)
