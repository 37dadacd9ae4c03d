"""`geobatch export`: checkpoint -> parity-checked ONNX model directory."""

from __future__ import annotations

import click

from ._train_extra import require_training


@click.command(context_settings={"show_default": True})
@click.argument("checkpoint", type=click.Path())
@click.option("--output", required=True, type=click.Path(), help="MODEL_DIR to write (model.onnx, tokenizer.json, model_card.json).")
@click.option("--opset", type=click.IntRange(17), default=17, help="ONNX opset.")
@click.option("--tolerance", type=float, default=1e-3, help="Largest allowed |ONNX - TensorFlow| logit difference.")
def command(checkpoint, output, opset, tolerance):
    """Export a training checkpoint to ONNX, checked against TensorFlow."""
    require_training()
    from training import checkpoint as ckpt

    # before TensorFlow loads: its start-up log lines buried the one-line error of a wrong path
    ckpt.read_metadata(checkpoint)
    from training.onnx_export import export

    export(checkpoint, output, opset=opset, tolerance=tolerance, log=click.echo)
    return 0
