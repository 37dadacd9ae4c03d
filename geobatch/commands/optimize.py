"""`geobatch optimize MODEL_DIR --output OUT_DIR [--fuse] [--quantize int8] [--fp16]`."""

from __future__ import annotations

import click


@click.command(name="optimize")
@click.argument("model_dir", type=click.Path(path_type=str))
@click.option("--output", "-o", required=True, type=click.Path(path_type=str),
              help="New model directory to write (must not exist, or be empty).")
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
def command(model_dir, output, fuse, quantize, fp16, per_channel, reduce_range, min_agreement):
    """Write an optimized copy of MODEL_DIR, with parity figures and fused-operator counts in its card.

    \b
    geobatch optimize model --fuse --output model-fused
    geobatch optimize model --fuse --quantize int8 --output model-int8     # CPU
    geobatch optimize model --fuse --fp16 --output model-fp16              # CUDA
    """
    from geobatch.optimize import optimize_model_dir

    optimize_model_dir(model_dir, output, fuse=fuse, quantize=quantize, fp16=fp16, per_channel=per_channel,
                       reduce_range=reduce_range, min_agreement=min_agreement, log=click.echo)
