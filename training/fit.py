"""Fine-tuning loop: dynamic-padded batches, masked loss, per-epoch validation, early stopping."""

from __future__ import annotations

import json
import math
import random
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from geobatch.errors import InputError
from geobatch.labels import ANY_PLACE, UNTAUGHT, LabelScheme, entity_type, place_types, split_tag

from . import checkpoint as ckpt
from .base import check_base_config, check_case_types, check_continuation, resolve_base
from .batching import iterate_batches, pad_batch
from .corpora import epoch_order, read_training_sentences
from .options import TrainOptions, check_options  # noqa: F401  (TrainOptions: the command's import)
from .scoring import entity_metrics, merged_places, untaught_as_outside
from .spec import convention_markers
from .data import (
    Encoded,
    apply_scheme,
    detect_format,
    encode_sentences,
    holdout_split,
    model_labels,
    read_sentences,
    runtime_tokenizer,
    same_content,
    sha256_file,
    word_predictions,
)

# with case_types: the share of training inputs given no case (all types 0), drawn with the seed, so a
# lowercased or all-caps text, which `geobatch run` gives no case either, is not new to the model
CASE_ZERO_SHARE = 0.1


def _seed_everything(seed: int) -> None:
    from .tf_env import keras

    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)


def _parity_batch(encoded: list[Encoded], n: int = 16) -> dict:
    """Up to n inputs spread over the length range, so the batch mixes short (padded) and long ones."""
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].input_ids))
    picks = sorted({order[int(round(k))] for k in np.linspace(0, len(order) - 1, min(n, len(order)))})
    return pad_batch([encoded[i] for i in picks])


def train(opts: TrainOptions, log=print) -> Path:
    """Run the whole fine-tuning; returns the checkpoint directory (best epoch's weights)."""
    out = Path(opts.output)
    check_options(opts)
    # by content, not path: a copy of a file is the same sentences
    same = same_content([*opts.train, *([opts.validation] if opts.validation else [])])
    twice = sorted({str(t) for t in opts.train if sum(same(t, u) for u in opts.train) > 1})
    if twice:  # read twice, its sentences would count double (and land on both sides of the hold-out)
        raise InputError(f"--train names {', '.join(twice)} more than once (as a path or a copy)", "give each training file once")
    if opts.validation and any(same(opts.validation, t) for t in opts.train):
        # validating on training sentences makes early stopping and the kept epoch meaningless
        raise InputError(f"--validation {opts.validation} is also a --train file (or a copy of one)",
                         "validate on other sentences: another file, or leave --validation out to hold out --validation-fraction")
    corpora = None
    if opts.spec:
        from .spec import load_spec, override_weights

        if opts.train:
            raise InputError("--spec and --train were both given", "list every training file in the spec, or use --train alone")
        corpora = override_weights(load_spec(opts.spec, opts.data_dir), opts.corpus_weights)
        # the card's gold map: the first word-per-row corpus's (GMB test is scored through it)
        word_maps = [c.types for c in corpora.corpora if c.types is not None and detect_format(c.path, c.format) in ("gmb", "conll")]
        scheme = LabelScheme(f"spec:{Path(opts.spec).name}", word_maps[0]) if word_maps else LabelScheme("full")
    else:
        scheme = LabelScheme.from_options(opts.label_scheme, opts.label_map)
    base = resolve_base(opts.base_model)
    tokenizer = runtime_tokenizer(base.tokenizer())
    check_base_config(base, opts.max_length, tokenizer)

    t0 = time.time()
    raw_train, groups, selected = read_training_sentences(opts, corpora)
    if corpora is None:
        types = sorted({entity_type(t) for s in raw_train for t in (s.tags or ())} - {None})
        unused = scheme.unused_map_keys(types)
        by_case = {u: t for u in unused for t in types if u.lower() == t.lower()}
        if by_case:  # types are case-sensitive: "GEO" would drop every geo tag to O, silently but for a note
            raise InputError(f"--label-map names {', '.join(f'{u!r}' for u in by_case)}, the data writes "
                             f"{', '.join(f'{t!r}' for t in by_case.values())}", "write the types as the data does (they are case-sensitive)")
        if unused:
            log(f"note: --label-map names {', '.join(unused)}, which --train does not have (its types: {', '.join(types) or 'none'}); "
                "a misspelt type is dropped to O")
        train_sents = apply_scheme(raw_train, scheme)
    else:  # each corpus was mapped by its own types when read
        train_sents = raw_train
    if opts.validation:
        if selected:  # two slices, one chosen by the spec: neither would be what the user asked for
            raise InputError(f"--validation {opts.validation} and the spec's validation rules both choose the validation slice",
                             "leave --validation out, or the validation keys out of the spec")
        val_sents = apply_scheme(read_sentences(opts.validation, opts.format, None, opts.spans), scheme)
        if not val_sents:  # nothing to choose epochs by; it failed with a traceback after the model was built
            raise InputError(f"--validation {opts.validation} holds no sentences", "check the file and --format, or leave --validation out")
        val_source, val_groups = opts.validation, [-1] * len(val_sents)  # of no corpus
    else:
        split_seed = opts.seed if opts.split_seed is None else opts.split_seed
        kept, held = holdout_split(list(zip(train_sents, groups)), opts.validation_fraction, split_seed)
        train_sents, groups = [s for s, _ in kept], [g for _, g in kept]
        held = held + selected
        val_sents, val_groups = [s for s, _ in held], [g for _, g in held]
        val_source = f"{opts.validation_fraction:g} of --train held out (seed {split_seed})"
        if selected:
            val_source += f" + {len(selected)} documents by the corpora's validation rules"
    labels = model_labels(train_sents)
    if len(labels) < 2:
        raise InputError("the training data has no entity tags under this label scheme", "check --label-scheme / --label-map and the data")
    place = set(place_types(labels))
    any_place = any(entity_type(t) == ANY_PLACE for s in train_sents for t in s.tags)
    lineage = check_continuation(base, labels, opts.head)
    label_to_id = {l: i for i, l in enumerate(labels)}
    # "*" (a place whose type the corpus does not give) is a target set, not a label: codes past the
    # labels, each allowing the B- (or I-) tag of every place type; the loss sums their probabilities
    target_sets = None
    if any_place:
        codes = {f"B-{ANY_PLACE}": len(labels), f"I-{ANY_PLACE}": len(labels) + 1}
        target_sets = np.eye(len(labels), dtype=np.float32).tolist()
        for tag in codes:
            prefix = tag[0]
            target_sets.append([1.0 if split_tag(l)[0] == prefix and split_tag(l)[1] in place else 0.0 for l in labels])
        label_to_id = {**label_to_id, **codes}
        log(f"note: spans of no given place type ({ANY_PLACE}) train as any of {', '.join(sorted(place))}")
    n_gold = len(train_sents)
    if opts.distill_augment or opts.augment:  # after the hold-out: copies of training sentences only (training/augment.py)
        from .augment import place_name_pool, swap_place_names

        copies, source = swap_place_names(train_sents, place | {ANY_PLACE}, place_name_pool(), opts.distill_augment or opts.augment,
                                          opts.seed, taught_as=ANY_PLACE if any_place else None, taught=bool(opts.augment))
        train_sents, groups = train_sents + copies, groups + [groups[i] for i in source]
        log(f"augment: {len(copies)} copies of {len(set(source))} training sentences with a place, names swapped, "
            f"{'the new names taught as places' if opts.augment else 'for the teacher alone'}")
    conventions = convention_markers(corpora, tokenizer, lineage)
    markers = val_markers = None
    if conventions:  # each input marked with its corpus's convention (a --validation file: the default's)
        by_corpus = [conventions["ids"][c.convention] for c in corpora.corpora]
        default = conventions["ids"][conventions["default"]]
        markers = [by_corpus[g] if g >= 0 else default for g in groups]
        val_markers = [by_corpus[g] if g >= 0 else default for g in val_groups]
        log(f"conventions: {', '.join(f'{n} {t}' for n, t in conventions['tokens'].items())}; default {conventions['default']}")
    case_types = check_case_types(lineage, corpora is not None and corpora.case_types)
    # a share of the training inputs without case, so text without capitals reads as it did before the channel
    train_enc, train_stats = encode_sentences(train_sents, tokenizer, label_to_id, opts.max_length, markers,
                                              case_types, CASE_ZERO_SHARE, opts.seed)
    val_enc, val_stats = encode_sentences(val_sents, tokenizer, label_to_id, opts.max_length, val_markers, case_types)
    if case_types:
        log(f"case types: on (geobatch/text/case_types.py; {CASE_ZERO_SHARE:.0%} of training inputs without)")
    log(f"data: {len(train_sents)} training sentences -> {len(train_enc)} inputs, {len(val_sents)} validation ({val_source}); "
        f"labels {labels}; read+encode {time.time() - t0:.1f}s")
    for name, st in (("train", train_stats), ("validation", val_stats)):
        if st.split_sentences:
            log(f"note: {st.split_sentences} {name} sentences exceed --max-length {opts.max_length} and were split at word boundaries")
        if st.words_without_pieces:
            log(f"note: {st.words_without_pieces} {name} words produce no wordpiece (predicted O)")
    if val_stats.unknown_tags:
        log(f"note: validation tags unseen in training, scored as O in the targets: {val_stats.unknown_tags}")
    teacher, soft_targets, hidden_targets = None, None, None
    if opts.teacher:
        from .distill import load_teacher, teacher_logits

        teacher = load_teacher(opts.teacher, labels, tokenizer, conventions, case_types)
        if not opts.distill_hidden:  # with layer outputs, read once the student's layers are known (below)
            soft_targets = teacher_logits(teacher, train_enc, max(opts.batch_size, 64), log=log)

    from .model import balanced_class_weights, build_model, masked_token_loss
    from .tf_env import has_gpu, keras, tf

    _seed_everything(opts.seed)
    gpu = has_gpu()
    if gpu:
        keras.mixed_precision.set_global_policy("mixed_float16")
    extra = {"conv_filters": opts.conv_filters} if opts.head == "conv" else {}
    model = build_model(base, labels, opts.head, extra)
    base_layers, layers_kept = int(model.config.num_hidden_layers), None
    if opts.layers is not None:
        from .depth import shallow_copy

        model, layers_kept = shallow_copy(model, opts.layers)
        log(f"encoder: {len(layers_kept)} of the base's {base_layers} layers, {layers_kept}")
    # a student as --base-model: its layers are layers_kept of the original encoder; picks compose with them
    # (the card, and --distill-hidden's pairing with the teacher's layers, speak of the original's indices)
    held = (lineage or {}).get("layers_kept")
    if held:
        layers_kept = [held[i] for i in layers_kept] if layers_kept else list(held)
    if teacher is not None and opts.distill_hidden:  # checked against the teacher by check_options
        picks = layers_kept or list(range(base_layers))
        soft_targets, hidden_targets = teacher_logits(teacher, train_enc, max(opts.batch_size, 64), log=log, hidden_layers=picks)
    class_weights = None
    if opts.class_weights == "balanced":
        class_weights = balanced_class_weights(np.concatenate([e.labels for e in train_enc]), len(labels))
        log(f"class weights: {dict(zip(labels, np.round(class_weights, 3).tolist()))}")
        if target_sets is not None:  # a target set counts with weight 1
            class_weights = list(class_weights) + [1.0] * (len(target_sets) - len(labels))

    from transformers import create_optimizer

    from .distill import hidden_batch, teacher_batch

    enc_groups = [groups[e.sentence] for e in train_enc]
    weights = [c.weight for c in corpora.corpora] if corpora is not None else [1.0]
    per_epoch = len(epoch_order(enc_groups, weights, opts.seed))
    if corpora is not None:
        for g, c in enumerate(corpora.corpora):
            n_in = sum(1 for x in enc_groups if x == g)
            log(f"corpus {c.name}: {sum(1 for x in groups if x == g)} sentences/documents -> {n_in} inputs, weight {c.weight:g}"
                f"{', held-out documents left out (' + c.heldout + ')' if c.heldout and not opts.with_heldout else ''}"
                f"{f', {sum(1 for _, x in selected if x == g)} documents in the validation slice ({c.validation})' if c.validation else ''}")
    steps_per_epoch = math.ceil(per_epoch / opts.batch_size)
    if opts.max_steps:
        steps_per_epoch = min(steps_per_epoch, opts.max_steps)
    total_steps = steps_per_epoch * opts.epochs
    optimizer, _ = create_optimizer(opts.learning_rate, total_steps, int(total_steps * opts.warmup_fraction), weight_decay_rate=opts.weight_decay)
    if gpu:
        optimizer = keras.mixed_precision.LossScaleOptimizer(optimizer)

    spec = tf.TensorSpec([None, None], tf.int32)
    soft_spec = tf.TensorSpec([None, None, len(labels)], tf.float32)
    hidden_spec = tf.TensorSpec([None, None, None, int(model.config.hidden_size)], tf.float32)
    with_hidden = hidden_targets is not None

    # one trace for every batch shape: dynamic padding must not cause retracing
    @tf.function(input_signature=[spec, spec, spec, spec, soft_spec, hidden_spec])
    def train_step(input_ids, attention_mask, token_type_ids, labels_, soft, soft_hidden):
        with tf.GradientTape() as tape:
            out = model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                        output_hidden_states=with_hidden, training=True)
            logits = out.logits
            loss = masked_token_loss(labels_, logits, class_weights, target_sets)
            if teacher is not None:
                from .distill import distillation_loss, hidden_state_loss

                loss = distillation_loss(labels_, logits, soft, loss, opts.distill_temperature, opts.distill_weight)
                if with_hidden:
                    loss = loss + opts.distill_hidden * hidden_state_loss(labels_, out.hidden_states[1:], soft_hidden)
            scaled = optimizer.get_scaled_loss(loss) if gpu else loss
        grads = tape.gradient(scaled, model.trainable_variables)
        if gpu:
            grads = optimizer.get_unscaled_gradients(grads)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    @tf.function(input_signature=[spec, spec, spec])
    def predict_step(input_ids, attention_mask, token_type_ids):
        logits = model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids, training=False).logits
        return tf.argmax(logits, axis=-1, output_type=tf.int32)

    def evaluate() -> dict:
        gold, pred, input_groups = [], [], []
        for idx, batch in iterate_batches(val_enc, max(opts.batch_size, 64)):
            ids = predict_step(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]).numpy()
            for row, i in enumerate(idx):
                g, p = untaught_as_outside(val_enc[i].gold_tags, word_predictions(val_enc[i], ids[row], labels), UNTAUGHT)
                gold.append(g)
                pred.append(p)
                input_groups.append(val_groups[val_enc[i].sentence])
        if not any_place:
            return entity_metrics(gold, pred)
        # gold of no given type scores against any place type: select epochs on places merged, and
        # report geo/gpe on the sentences whose gold is typed (GMB's)
        merged_types = place | {ANY_PLACE}
        typed = [(g, p) for g, p in zip(gold, pred) if not any(entity_type(t) == ANY_PLACE for t in g)]
        gold = [merged_places(g, merged_types) for g in gold]
        pred = [merged_places(p, merged_types) for p in pred]
        metrics = entity_metrics(gold, pred)
        if typed:
            metrics["typed_per_type"] = entity_metrics([g for g, _ in typed], [p for _, p in typed])["per_type"]
        if corpora is not None:  # each corpus's part of the slice: news and GMB may disagree (docs/TRAINING.md)
            metrics["by_corpus"] = {}
            for g, c in enumerate(corpora.corpora):
                rows = [k for k, x in enumerate(input_groups) if x == g]
                if rows:
                    m = entity_metrics([gold[k] for k in rows], [pred[k] for k in rows])
                    metrics["by_corpus"][c.name] = {k: m[k] for k in ("entity_precision", "entity_recall", "entity_f1")}
        return metrics

    files = [{"path": str(Path(p)), "sha256": sha256_file(p)} for p in opts.train]
    if corpora is not None:
        files = [{"path": str(c.path), "sha256": sha256_file(c.path), "corpus": c.to_dict()} for c in corpora.corpora]
    if opts.validation:
        files.append({"path": str(Path(opts.validation)), "sha256": sha256_file(opts.validation), "role": "validation"})
    options = {k: v for k, v in asdict(opts).items() if k not in ("spans",)}
    options["spans"] = asdict(opts.spans)
    meta = {
        "head": opts.head,
        "labels": labels,
        "label_scheme": scheme.name,
        "label_map": scheme.type_map,
        "max_length": opts.max_length,
        "base_model": base.name,
        "lowercase": base.lowercase(),
        "files": files,
        "sentences": n_gold,
        "validation_sentences": len(val_sents),
        "validation_source": val_source,
        "epochs": 0,
        "best_epoch": None,
        # epochs behind the kept weights, counting those of the checkpoint this run continued
        "total_epochs": None,
        "continued_from": lineage,
        "validation_metrics": None,
        "history": [],
        "seed": opts.seed,
        "split_seed": opts.seed if opts.split_seed is None else opts.split_seed,
        "spec": {"path": str(opts.spec), "with_heldout": opts.with_heldout,
                 "demonym_type": corpora.demonym_type} if corpora is not None else None,
        "conventions": conventions,
        "case_types": case_types,
        "mixed_precision": gpu,
        "layers": int(model.config.num_hidden_layers),
        "base_layers": int(getattr(model.config, "geobatch_base_layers", base_layers)),
        "layers_kept": layers_kept,
        "distillation": {**teacher.describe(), "temperature": opts.distill_temperature, "weight": opts.distill_weight,
                         "hidden_weight": opts.distill_hidden,
                         "augment_copies": opts.distill_augment} if teacher else None,
        "augment_copies": opts.augment,
        "options": options,
    }
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(out / "tokenizer.json"))
    (out / "labels.json").write_text(json.dumps(labels) + "\n", encoding="utf-8")
    ckpt.write_parity_batch(out, _parity_batch(val_enc))
    ckpt.write_metadata(out, meta)

    if lineage is not None:
        # the checkpoint continued from, scored on this run's validation slice and rules: says whether the
        # epochs below improve on it (the slice and the rules may differ from the run that made it)
        t_val = time.time()
        meta["base_validation_metrics"] = base_metrics = evaluate()
        log(f"epoch 0 (the base{f', layers {layers_kept} kept' if layers_kept else ''}): validation entity "
            f"P {base_metrics['entity_precision']:.4f} R {base_metrics['entity_recall']:.4f} F1 {base_metrics['entity_f1']:.4f} "
            f"({time.time() - t_val:.0f}s)")
        ckpt.write_metadata(out, meta)
    best_f1, bad_epochs = -1.0, 0
    log(f"training: {opts.epochs} epoch(s) x {steps_per_epoch} steps, batch {opts.batch_size}, lr {opts.learning_rate:g}, "
        f"head {opts.head}, {'GPU mixed precision' if gpu else 'CPU float32'}")
    for epoch in range(1, opts.epochs + 1):
        t_epoch = time.time()
        losses, seen = [], 0
        order = epoch_order(enc_groups, weights, opts.seed * 1000 + epoch)
        epoch_inputs = [train_enc[i] for i in order]
        epoch_soft = [soft_targets[i] for i in order] if soft_targets is not None else None
        epoch_hidden = [hidden_targets[i] for i in order] if hidden_targets is not None else None
        for step, (idx, batch) in enumerate(iterate_batches(epoch_inputs, opts.batch_size, seed=opts.seed * 1000 + epoch), 1):
            if step > steps_per_epoch:
                break
            width = batch["input_ids"].shape[1]
            soft = (teacher_batch(epoch_soft, epoch_inputs, idx, width, len(labels)) if epoch_soft is not None
                    else np.zeros((len(idx), width, len(labels)), np.float32))
            soft_hidden = (hidden_batch(epoch_hidden, epoch_inputs, idx, width) if epoch_hidden is not None
                           else np.zeros((len(idx), width, 0, int(model.config.hidden_size)), np.float32))
            loss = train_step(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"], batch["labels"], soft, soft_hidden)
            losses.append(float(loss))
            seen += len(idx)
            if step % opts.log_every == 0 or step == steps_per_epoch:
                el = time.time() - t_epoch
                rate = seen / el
                eta = (steps_per_epoch - step) * el / step
                log(f"epoch {epoch} step {step}/{steps_per_epoch} loss {np.mean(losses[-opts.log_every:]):.4f} "
                    f"{rate:.1f} sent/s elapsed {el / 60:.1f} min eta {eta / 60:.1f} min")
        train_time = time.time() - t_epoch
        t_val = time.time()
        metrics = evaluate()
        val_time = time.time() - t_val
        per_type = " ".join(f"{k} {v['f1']:.4f}" for k, v in {**metrics["per_type"], **metrics.get("typed_per_type", {})}.items())
        log(f"epoch {epoch}: train loss {np.mean(losses):.4f} ({train_time / 60:.1f} min, {seen / train_time:.1f} sent/s); "
            f"validation entity P {metrics['entity_precision']:.4f} R {metrics['entity_recall']:.4f} F1 {metrics['entity_f1']:.4f} "
            f"[{per_type}] word acc {metrics['word_accuracy']:.4f} ({val_time:.0f}s)")
        if metrics.get("by_corpus"):
            log(f"epoch {epoch}: validation F1 by corpus: " + ", ".join(f"{k} {v['entity_f1']:.4f}" for k, v in metrics["by_corpus"].items()))
        meta["epochs"] = epoch
        meta["history"].append({"epoch": epoch, "train_loss": round(float(np.mean(losses)), 5), "train_seconds": round(train_time, 1),
                                "validation_seconds": round(val_time, 1), "sentences_per_second": round(seen / train_time, 2), **metrics})
        if metrics["entity_f1"] > best_f1:
            best_f1, bad_epochs = metrics["entity_f1"], 0
            ckpt.save_model(out, model)
            meta["best_epoch"], meta["validation_metrics"] = epoch, metrics
            meta["total_epochs"] = epoch + ((lineage or {}).get("total_epochs") or 0)
            log(f"epoch {epoch}: best so far, checkpoint saved to {out}")
        else:
            bad_epochs += 1
        ckpt.write_metadata(out, meta)
        sys.stdout.flush()
        if bad_epochs >= opts.patience:
            log(f"early stop: no validation F1 gain for {bad_epochs} epoch(s); best epoch {meta['best_epoch']}")
            break
    return out
