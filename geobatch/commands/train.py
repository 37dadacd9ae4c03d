"""`geobatch train`: fine-tune a BERT token classifier; optionally export it in the same run."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import GeobatchError
from ._train_extra import require_training


def _echo(msg: str) -> None:
    click.echo(msg)


@click.command(context_settings={"show_default": True})
@click.option("--train", "train_files", multiple=True, type=click.Path(), help="Training file(s): GMB CSV, CoNLL, or span documents (JSONL/Parquet); repeat for more.")
@click.option("--spec", type=click.Path(), help="Training spec (TOML): several corpora, each with its columns, type map, weight and held-out documents (training/geoparse.toml). Instead of --train.")
@click.option("--data-dir", type=click.Path(), help="With --spec: folder the spec's paths are relative to (default: the spec's folder).")
@click.option("--with-heldout", is_flag=True, help="With --spec: also train on the documents the spec holds back for evaluation (the final model, once figures are taken).")
@click.option("--corpus-weight", "corpus_weights", multiple=True, metavar="NAME=W",
              help="With --spec: train the spec's corpus NAME at weight W in this run (repeatable), e.g. gmb=0.35.")
@click.option("--validation", type=click.Path(), help="Validation file (default: hold out --validation-fraction of --train). Never pass test data.")
@click.option("--format", "fmt", type=click.Choice(["gmb", "conll", "spans"]), help="Input format (default: from the extension).")
@click.option("--id-column", default="id", help="Span documents: id column.")
@click.option("--text-column", default="text", help="Span documents: text column.")
@click.option("--spans-column", default="spans", help="Span documents: column with [{start, end, label}].")
@click.option("--span-label", help="Span documents: label for spans that carry none (e.g. geo).")
@click.option("--label-scheme", type=click.Choice(["full", "locations"]), default="full", help="Which entity types to learn.")
@click.option("--label-map", type=click.Path(), help="Type map file (JSON or `from to` lines); overrides --label-scheme.")
@click.option("--base-model", help="Local Hugging Face directory or hub name (default: the packaged MiniLM-L6-H384-uncased).")
@click.option("--head", type=click.Choice(["linear", "conv"]), default="linear", help="Classifier head.")
@click.option("--layers", help="Keep this many of the base encoder's layers, evenly spaced, first and last included (a faster, shallower model; docs/TRAINING.md), or the layers named: 0,1,2,3.")
@click.option("--teacher", type=click.Path(), help="Distil from this MODEL_DIR (run with ONNX Runtime) or checkpoint: same labels and tokenizer as the student.")
@click.option("--distill-temperature", type=float, default=2.0, help="With --teacher: softmax temperature of the teacher's and the student's distributions.")
@click.option("--distill-weight", type=float, default=0.5, help="With --teacher: share of the loss from the teacher (the rest from the gold tags).")
@click.option("--distill-hidden", type=float, default=0.0,
              help="With --teacher (its checkpoint): weight of a term pulling each student layer's output towards the teacher layer it was copied from (0: off).")
@click.option("--distill-augment", type=click.IntRange(0), default=0,
              help="With --teacher: N copies of each training sentence holding a place, its place names swapped for gazetteer names, "
                   "learnt from the teacher alone (0: off; each copy adds to every epoch and to the teacher pass).")
@click.option("--augment", type=click.IntRange(0), default=0,
              help="N copies of each training sentence holding a place, its place names swapped for gazetteer names taught as places "
                   "(0: off; each copy adds to every epoch).")
@click.option("--epochs", type=click.IntRange(1), default=3)
@click.option("--batch-size", type=click.IntRange(1), default=32)
@click.option("--max-length", type=click.IntRange(16, 512), default=128, help="Wordpieces per input; longer sentences are split at word boundaries.")
@click.option("--learning-rate", type=float, default=1e-4, help="Peak learning rate (linear warm-up, then linear decay to 0).")
@click.option("--warmup-fraction", type=click.FloatRange(0, 0.5), default=0.06)
@click.option("--weight-decay", type=click.FloatRange(0), default=0.01)
@click.option("--class-weights", type=click.Choice(["none", "balanced"]), default="none")
@click.option("--patience", type=click.IntRange(1), default=2, help="Early stop after this many epochs without validation F1 gain.")
@click.option("--seed", type=int, default=13, help="Seeds batch order, sampling and dropout, and (unless --split-seed) the validation hold-out.")
@click.option("--split-seed", type=int, default=None,
              help="Seed of the validation hold-out alone (default: --seed): a second training seed that keeps the same slice, "
                   "e.g. a student scored on its teacher's slice.")
@click.option("--max-sentences", type=click.IntRange(1), help="Read at most this many training sentences.")
@click.option("--validation-fraction", type=float, default=0.05)
@click.option("--log-every", type=click.IntRange(1), default=50, help="Progress line every N steps.")
@click.option("--output", required=True, type=click.Path(), help="Checkpoint directory.")
@click.option("--export", "export_dir", type=click.Path(), help="Also export the best checkpoint to this MODEL_DIR.")
def command(train_files, spec, data_dir, with_heldout, corpus_weights, validation, fmt, id_column, text_column, spans_column, span_label, label_scheme, label_map,
            base_model, head, layers, teacher, distill_temperature, distill_weight, distill_hidden, distill_augment, augment, epochs, batch_size, max_length, learning_rate, warmup_fraction, weight_decay, class_weights,
            patience, seed, split_seed, max_sentences, validation_fraction, log_every, output, export_dir):
    """Fine-tune a BERT token classifier on annotated data."""
    if not train_files and not spec:
        raise GeobatchError("no training data given", "pass --train FILE (repeatable) or --spec SPEC.toml")
    if (data_dir or with_heldout) and not spec:
        raise GeobatchError("--data-dir and --with-heldout go with --spec", "pass --spec SPEC.toml, or leave them out")
    ctx = click.get_current_context()
    given = [f"--{n.replace('_', '-')}" for n in ("distill_weight", "distill_temperature", "distill_hidden")
             if ctx.get_parameter_source(n) is not click.core.ParameterSource.DEFAULT]
    if given and not teacher:  # silently ignored before: a run without the distillation its user asked for
        raise GeobatchError(f"{' and '.join(given)} without --teacher", "pass --teacher MODEL_DIR_OR_CHECKPOINT, or leave them out")
    require_training()
    from training.data import SpanOptions
    from training.depth import parse_layers
    from training.fit import TrainOptions, check_options, train

    opts = TrainOptions(
        train=list(train_files), output=output, validation=validation, format=fmt,
        spans=SpanOptions(id_column, text_column, spans_column, span_label),
        label_scheme=label_scheme, label_map=label_map, base_model=base_model, head=head, epochs=epochs,
        batch_size=batch_size, max_length=max_length, learning_rate=learning_rate, warmup_fraction=warmup_fraction,
        weight_decay=weight_decay, class_weights=class_weights, patience=patience, seed=seed, split_seed=split_seed,
        max_sentences=max_sentences, validation_fraction=validation_fraction, log_every=log_every,
        spec=spec, data_dir=data_dir, with_heldout=with_heldout, corpus_weights=tuple(corpus_weights),
        layers=None if layers is None else parse_layers(layers), teacher=teacher, distill_temperature=distill_temperature, distill_weight=distill_weight,
        distill_hidden=distill_hidden, distill_augment=distill_augment, augment=augment,
    )
    check_options(opts)  # before TensorFlow loads (the export's import below), so a wrong option is one line
    if export_dir:
        ck, md = Path(output).resolve(), Path(export_dir).resolve()
        if ck == md or ck in md.parents or md in ck.parents:
            # the checkpoint written inside the model dir (or the reverse) makes the export refuse it, after training
            raise GeobatchError(f"--output {output} and --export {export_dir} overlap", "give the checkpoint and the model directory separate paths")
        # imported before training: fails early, and later edits to the module cannot change a long run
        from training.onnx_export import check_output, export

        check_output(export_dir)  # an unusable --export dir would otherwise fail only after the training
    checkpoint = train(opts, log=_echo)
    if export_dir:
        export(checkpoint, export_dir, log=_echo)
    return 0
