"""`geobatch optimize MODEL_DIR (--output OUT_DIR | --variant NAME) [--fuse] [--quantize int8] [--fp16]`,
and `geobatch optimize MODEL_DIR --default cpu=NAME|auto --default cuda=NAME|auto`."""

from __future__ import annotations

import click

from geobatch.errors import GeobatchError


@click.command(name="optimize")
@click.argument("model_dir", type=click.Path(path_type=str))
@click.option("--output", "-o", default=None, type=click.Path(path_type=str),
              help="New model directory to write (must not exist, or be empty).")
@click.option("--variant", default=None,
              help="Instead of --output: write MODEL_DIR/variants/NAME and list it in MODEL_DIR's card, "
                   "so `geobatch run --variant auto|NAME` can use it (docs/OPTIMIZE.md).")
@click.option("--default", "defaults", multiple=True, metavar="PROVIDER=NAME",
              help="Set the variant `geobatch run --variant auto` uses on cpu or cuda (NAME auto: the bench's rule for "
                   "cpu, fp32 for cuda). Repeatable; alone, or after a --variant build.")
@click.option("--fuse", is_flag=True,
              help="Rewrite the tf2onnx graph and fuse attention, LayerNorm and GELU into ONNX Runtime operators (fp32, exact).")
@click.option("--quantize", type=click.Choice(["int8"]), default=None,
              help="Dynamic int8 quantization of the weights (CPU); applied to the fused graph with --fuse.")
@click.option("--fp16", is_flag=True, help="Convert to float16 for the CUDA provider (inputs and logits keep their types).")
@click.option("--per-channel/--per-tensor", default=False, show_default=True,
              help="int8: one scale per output channel instead of per weight tensor.")
@click.option("--reduce-range", is_flag=True, help="int8: 7-bit weights (can help accuracy on CPUs without VNNI).")
@click.option("--min-agreement", type=float, default=0.99, show_default=True,
              help="int8/fp16: least share of tokens whose predicted label must match the source model.")
def command(model_dir, output, variant, defaults, fuse, quantize, fp16, per_channel, reduce_range, min_agreement):
    """Write an optimized copy of MODEL_DIR, with parity figures and fused-operator counts in its card.

    \b
    geobatch optimize model --fuse --output model-fused
    geobatch optimize model --fuse --quantize int8 --output model-int8     # CPU
    geobatch optimize model --fuse --fp16 --output model-fp16              # CUDA
    geobatch optimize model --fuse --quantize int8 --variant int8          # inside model/, for --variant auto
    geobatch optimize model --default cuda=fp16
    """
    from pathlib import Path

    from geobatch.model import variants

    pairs = []
    for d in defaults:
        provider, sep, name = d.partition("=")
        if not sep or not name:
            raise GeobatchError(f"--default {d!r} is not PROVIDER=NAME", "e.g. --default cpu=int8 or --default cuda=fp16")
        pairs.append((provider.strip(), name.strip()))
    build = fuse or quantize or fp16
    if output and variant:
        raise GeobatchError("--output and --variant exclude each other", "--output writes a separate directory, --variant one inside MODEL_DIR")
    if build and not (output or variant):
        raise GeobatchError("no destination for the optimized model", "pass --output NEW_DIR or --variant NAME")
    if (output or variant) and not build:
        raise GeobatchError("nothing to do", "pass --fuse, --quantize int8 and/or --fp16")
    if output and pairs:
        raise GeobatchError("--default applies to MODEL_DIR's own variants", "use it with --variant, or alone")
    if not (build or pairs):
        raise GeobatchError("nothing to do", "pass --fuse/--quantize/--fp16 with --output or --variant, or --default PROVIDER=NAME")
    if variant:
        variants.check_name(variant)
        card = variants.read_card(model_dir)  # a bad MODEL_DIR is reported before any work
        if "optimization" in card:  # a variant's own variants/ would be reachable from no root card
            source = (card["optimization"].get("source") or {}).get("path") if isinstance(card["optimization"], dict) else None
            raise GeobatchError(f"{model_dir} is itself an optimized model; variants belong to the exported model directory",
                                f"run geobatch optimize {source or 'ROOT_MODEL_DIR'} ... --variant {variant}")
        output = str(Path(model_dir) / variants.VARIANTS_DIR / variant)
        if Path(output).exists():  # the generic "--output ... already exists" named an option nobody gave
            raise GeobatchError(f"{model_dir} already has a variant {variant!r} ({output})",
                                f"choose another --variant name, or delete {output} (and rerun to rebuild it)")
    elif output:
        src, dst = Path(model_dir).resolve(), Path(output).resolve()
        if src in dst.parents:  # it wrote into the source, which then could not be re-exported
            raise GeobatchError(f"--output {output} is inside {model_dir}, which optimize never writes to",
                                "choose a directory outside the model, or --variant NAME for one the model lists")
    if output:
        from geobatch.model.optimize import optimize_model_dir

        section = optimize_model_dir(model_dir, output, fuse=fuse, quantize=quantize, fp16=fp16, per_channel=per_channel,
                                     reduce_range=reduce_range, min_agreement=min_agreement, log=click.echo)
        if variant:
            variants.register_variant(model_dir, variant, section)
            click.echo(f"registered variant {variant!r} in {Path(model_dir) / 'model_card.json'}")
    for provider, name in pairs:
        d = variants.set_default(model_dir, provider, name)
        click.echo(f"{provider} default: {d.get(provider, variants.FP32)} ({d.get(provider + '_reason', 'no default recorded: fp32 as exported')})")
