"""Rewrites that turn a tf2onnx BERT graph into the shapes ONNX Runtime's fusions recognise.

tf2onnx writes Keras layers the way TensorFlow computes them, and ONNX Runtime's transformer
optimizer (written against PyTorch exports) then fuses nothing. Each rewrite below is an exact
identity; `optimize` still checks the rewritten model's logits against the source model.

- Dense layers: Keras' Tensordot is Reshape(x, [-1, K]) -> MatMul(W) -> Reshape(shape(x)[:-1] + [N]),
  with a Shape/Cast/Gather/Concat/Cast chain to build the shape. MatMul broadcasts over leading
  axes, so it becomes MatMul(x, W) (and the shape chain, with its Casts, dies).
- LayerNorm: TensorFlow's moments/batchnorm form (GlobalAveragePool for the mean,
  Sub/Mul/Sqrt/Reciprocal) becomes ONNX LayerNormalization (opset 17).
- Exact GELU: TensorFlow writes 0.5 * x * erfc(-x / sqrt(2)); with the exporter's Erfc rewrite that is
  0.5 * x * (1 - erf(-x / sqrt(2))), i.e. Gelu(x) (com.microsoft), which ORT then merges with the
  bias Add into BiasGelu.
- Attention mask: Reshape(mask, [0, 1, 1, -1]) becomes Unsqueeze(Unsqueeze(mask, 1), 2), the form
  FusionAttention matches, and the scalar TensorFlow adds to the mask term before Softmax (softmax is
  unchanged by adding a constant) is dropped.
"""

from __future__ import annotations

import math

import numpy as np
from onnx import TensorProto

from .graph import MS_DOMAIN, Graph

INT_TYPES = {TensorProto.INT32, TensorProto.INT64}


# -- shape arithmetic ---------------------------------------------------------------------------
def shape_expr(g: Graph, name: str, depth: int = 0) -> list | None:
    """A 1-D integer tensor built from shapes, as a list of ints and ("dim", tensor, axis) items.

    Follows Shape, Cast, Gather, Slice, Concat, Squeeze and Unsqueeze; anything else is unknown (None).
    """
    if depth > 32:
        return None
    value = g.const(name)
    if value is not None:
        if value.dtype.kind in "iu" and value.ndim <= 1:
            return [int(v) for v in value.reshape(-1)]
        return None
    node = g.producer.get(name)
    if node is None:
        return None
    op = node.op_type
    if op == "Shape":
        if any(a.name in ("start", "end") for a in node.attribute):
            return None
        rank = g.rank(node.input[0])
        return None if rank is None else [("dim", node.input[0], i) for i in range(rank)]
    if op == "Cast":
        to = next(a.i for a in node.attribute if a.name == "to")
        return shape_expr(g, node.input[0], depth + 1) if to in INT_TYPES else None
    if op in ("Squeeze", "Unsqueeze"):
        inner = shape_expr(g, node.input[0], depth + 1)
        return inner if inner is not None and len(inner) == 1 else None
    if op == "Concat":
        parts = [shape_expr(g, i, depth + 1) for i in node.input]
        return None if any(p is None for p in parts) else [x for p in parts for x in p]
    if op == "Gather":
        data, idx = shape_expr(g, node.input[0], depth + 1), g.const(node.input[1])
        axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
        if data is None or idx is None or axis != 0:
            return None
        try:
            return [data[int(i)] for i in idx.reshape(-1)]
        except IndexError:
            return None
    if op == "Slice":
        data = shape_expr(g, node.input[0], depth + 1)
        args = [g.const(i) if i else None for i in list(node.input[1:]) + [""] * (5 - len(node.input))]
        starts, ends, axes, steps = args[:4]
        if data is None or starts is None or ends is None:
            return None
        if (axes is not None and list(axes.reshape(-1)) != [0]) or (steps is not None and list(steps.reshape(-1)) != [1]):
            return None
        start, end = int(starts.reshape(-1)[0]), int(ends.reshape(-1)[0])
        return data[max(start, -len(data)) : min(end, len(data)) if end >= 0 else end]
    return None


# -- Dense (Tensordot) ------------------------------------------------------------------------
def collapse_tensordot(g: Graph) -> int:
    done = 0
    for matmul in g.nodes("MatMul"):
        flatten = g.parent(matmul, 0, "Reshape")
        weight = g.const(matmul.input[1])
        if flatten is None or weight is None or weight.ndim != 2:
            continue
        k, n = weight.shape
        x = flatten.input[0]
        rank = g.rank(x)
        if rank is None or rank < 2 or shape_expr(g, flatten.input[1]) != [-1, k]:
            continue
        users = g.consumers.get(matmul.output[0], [])
        if len(users) != 1 or users[0].op_type != "Reshape" or users[0].input[0] != matmul.output[0]:
            continue
        unflatten = users[0]
        expected = [("dim", x, i) for i in range(rank - 1)] + [n]
        if shape_expr(g, unflatten.input[1]) != expected:
            continue
        g.replace(unflatten, [g.make_node("MatMul", [x, matmul.input[1]], list(unflatten.output))])
        done += 1
    return done


# -- LayerNorm --------------------------------------------------------------------------------
def _mean_over_last_axis(g: Graph, node, x: str) -> bool:
    """GlobalAveragePool on a rank-3 tensor, or ReduceMean over the last axis keeping dims."""
    if node is None or node.input[0] != x:
        return False
    rank = g.rank(x)
    if node.op_type == "GlobalAveragePool":
        return rank == 3
    if node.op_type == "ReduceMean" and rank is not None:
        keepdims = next((a.i for a in node.attribute if a.name == "keepdims"), 1)
        axes = next((list(a.ints) for a in node.attribute if a.name == "axes"), None)
        if axes is None and len(node.input) > 1:
            value = g.const(node.input[1])
            axes = None if value is None else [int(v) for v in value.reshape(-1)]
        return keepdims == 1 and axes is not None and [a % rank for a in axes] == [rank - 1]
    return False


def _split(g: Graph, node, op_type: str, want) -> tuple | None:
    """For a binary node of op_type, return (a, b) where `want(a)` holds for a, trying both orders."""
    if node is None or node.op_type != op_type or len(node.input) != 2:
        return None
    for a, b in ((node.input[0], node.input[1]), (node.input[1], node.input[0])):
        if want(a):
            return a, b
    return None


def fuse_tf_layer_norm(g: Graph) -> int:
    """out = x * scale + (beta - mean * scale), scale = gamma / sqrt(var + eps) -> LayerNormalization."""
    done = 0
    for out in g.nodes("Add"):
        for m1_name, b_name in ((out.input[0], out.input[1]), (out.input[1], out.input[0])):
            m1, sub_b = g.producer.get(m1_name), g.producer.get(b_name)
            if m1 is None or m1.op_type != "Mul" or sub_b is None or sub_b.op_type != "Sub":
                continue
            beta, m2 = sub_b.input[0], g.producer.get(sub_b.input[1])
            if g.const(beta) is None or m2 is None or m2.op_type != "Mul":
                continue
            # scale is the input m1 and m2 share; the other input of m2 is the mean, of m1 it is x
            shared = set(m1.input) & set(m2.input)
            if len(shared) != 1:
                continue
            scale_name = shared.pop()
            x = next(i for i in m1.input if i != scale_name)
            mean_name = next(i for i in m2.input if i != scale_name)
            mean = g.producer.get(mean_name)
            if not _mean_over_last_axis(g, mean, x):
                continue
            scale = g.producer.get(scale_name)
            split = _split(g, scale, "Mul", lambda n: g.const(n) is not None)
            if split is None:
                continue
            gamma, recip_name = split
            recip = g.producer.get(recip_name)
            sqrt = g.parent(recip, 0, "Sqrt") if recip is not None and recip.op_type == "Reciprocal" else None
            add_eps = g.parent(sqrt, 0, "Add") if sqrt is not None else None
            split = _split(g, add_eps, "Add", lambda n: g.scalar(n) is not None)
            if split is None:
                continue
            eps_name, var_name = split
            eps = g.scalar(eps_name)
            var = g.producer.get(var_name)
            square = g.producer.get(var.input[0]) if var is not None else None
            if not (0 < eps <= 1e-3) or var is None or square is None or square.op_type != "Mul":
                continue
            diff = g.producer.get(square.input[0])
            if square.input[0] != square.input[1] or diff is None or diff.op_type != "Sub":
                continue
            if list(diff.input) != [x, mean_name] or not _mean_over_last_axis(g, var, square.output[0]):
                continue
            gamma_v, beta_v = g.const(gamma), g.const(beta)
            width = (g.shape(x) or [None])[-1]
            if gamma_v.ndim != 1 or beta_v.shape != gamma_v.shape or (width is not None and gamma_v.shape[0] != width):
                continue
            g.replace(out, [g.make_node("LayerNormalization", [x, gamma, beta], list(out.output),
                                        axis=-1, epsilon=float(eps))])
            done += 1
            break
    return done


# -- exact GELU -------------------------------------------------------------------------------
def _close(value: float | None, target: float) -> bool:
    return value is not None and abs(value - target) <= 1e-6 * max(1.0, abs(target))


def _erf_argument(g: Graph, name: str) -> tuple[str, int] | None:
    """If name is +-x/sqrt(2) (as Mul/Div by a constant, maybe after Neg), return (x, sign)."""
    node = g.producer.get(name)
    if node is None:
        return None
    inv_sqrt2 = 1 / math.sqrt(2)
    if node.op_type == "Div" and g.scalar(node.input[1]) is not None:
        c = 1 / g.scalar(node.input[1])
        operand = node.input[0]
    elif node.op_type == "Mul":
        split = _split(g, node, "Mul", lambda n: g.scalar(n) is not None)
        if split is None:
            return None
        c, operand = g.scalar(split[0]), split[1]
    else:
        return None
    sign = 1
    neg = g.producer.get(operand)
    if neg is not None and neg.op_type == "Neg":
        sign, operand = -1, neg.input[0]
    if _close(c, inv_sqrt2):
        return operand, sign
    if _close(c, -inv_sqrt2):
        return operand, -sign
    return None


def _is_product(g: Graph, name: str, x: str, erf_term: str) -> bool:
    """name == 0.5 * x * erf_term, as two Muls in any grouping."""
    node = g.producer.get(name)
    if node is None or node.op_type != "Mul":
        return False
    a, b = node.input
    for first, second in ((a, b), (b, a)):
        inner = g.producer.get(second)
        if inner is None or inner.op_type != "Mul":
            continue
        factors = set(inner.input)
        if first == erf_term and len(factors) == 2 and x in factors and _close(g.scalar((factors - {x}).pop()), 0.5):
            return True
        if first == x and len(factors) == 2 and erf_term in factors and _close(g.scalar((factors - {erf_term}).pop()), 0.5):
            return True
        if _close(g.scalar(first), 0.5) and factors == {x, erf_term}:
            return True
    return False


def fuse_exact_gelu(g: Graph) -> int:
    done = 0
    for erf in g.nodes("Erf"):
        arg = _erf_argument(g, erf.input[0])
        if arg is None:
            continue
        x, sign = arg
        for term in g.consumers.get(erf.output[0], []):
            # 1 + erf(x/sqrt2)  or, from erfc(-x/sqrt2) = 1 - erf(-x/sqrt2),  1 - erf(-x/sqrt2)
            if sign > 0 and not (term.op_type == "Add" and any(_close(g.scalar(i), 1.0) for i in term.input)):
                continue
            if sign < 0 and not (term.op_type == "Sub" and list(term.input)[1] == erf.output[0]
                                 and _close(g.scalar(term.input[0]), 1.0)):
                continue
            for out in g.consumers.get(term.output[0], []) + [
                c for m in g.consumers.get(term.output[0], []) if m.op_type == "Mul" for c in g.consumers.get(m.output[0], [])
            ]:
                if out.op_type == "Mul" and _is_product(g, out.output[0], x, term.output[0]):
                    g.replace(out, [g.make_node("Gelu", [x], list(out.output), domain=MS_DOMAIN)])
                    done += 1
                    break
    return done


# -- attention mask -----------------------------------------------------------------------------
def normalize_attention_mask(g: Graph) -> int:
    done = 0
    # Reshape(mask[B, S], [0, 1, 1, -1]) == Unsqueeze(Unsqueeze(mask, [1]), [2])
    for reshape in g.nodes("Reshape"):
        if g.rank(reshape.input[0]) == 2 and shape_expr(g, reshape.input[1]) == [0, 1, 1, -1]:
            one, two = g.add_initializer("geobatch/axes_1", np.array([1], np.int64)), g.add_initializer(
                "geobatch/axes_2", np.array([2], np.int64))
            first = g.make_node("Unsqueeze", [reshape.input[0], one])
            g.replace(reshape, [first, g.make_node("Unsqueeze", [first.output[0], two], list(reshape.output))])
            done += 1
    # Softmax(scores + (c + mask_term)) == Softmax(scores + mask_term) for a scalar constant c
    for softmax in g.nodes("Softmax"):
        add_qk = g.parent(softmax, 0, "Add")
        if add_qk is None or [n.op_type for n in g.consumers[add_qk.output[0]]] != ["Softmax"]:
            continue
        for index, name in enumerate(add_qk.input):
            shifted = g.producer.get(name)
            split = _split(g, shifted, "Add", lambda n: g.scalar(n) is not None) if shifted is not None else None
            if split is not None:
                g.set_input(add_qk, index, split[1])
                done += 1
                break
    return done


def scale_scores_by_division(g: Graph) -> int:
    """Softmax(Mul(QK, 1/sqrt(d)) + mask) -> Softmax(Div(QK, sqrt(d)) + mask).

    FusionAttention tells the score scaling from the mask term by op type (Div vs Mul), and its Attention
    node always scales by 1/sqrt(head_size): so rewrite only where the constant is exactly that.
    """
    done = 0
    for softmax in g.nodes("Softmax"):
        add_qk = g.parent(softmax, 0, "Add")
        if add_qk is None:
            continue
        for scaled_name in add_qk.input:
            scaled = g.producer.get(scaled_name)
            split = _split(g, scaled, "Mul", lambda n: g.scalar(n) is not None) if scaled is not None else None
            if split is None:
                continue
            matmul = g.producer.get(split[1])
            if matmul is None or matmul.op_type != "MatMul":
                continue
            head_size = _head_size(g, matmul)
            if head_size is None or not _close(g.scalar(split[0]), 1 / math.sqrt(head_size)):
                continue
            divisor = g.add_initializer("geobatch/sqrt_head_size", np.array(math.sqrt(head_size), np.float32))
            g.replace(scaled, [g.make_node("Div", [split[1], divisor], list(scaled.output))])
            done += 1
            break
    return done


def _head_size(g: Graph, matmul_qk) -> int | None:
    """head size from the Q side: MatMul(Transpose(Reshape(q, [b, -1, heads, head_size])), ...)."""
    transpose = g.parent(matmul_qk, 0, "Transpose")
    reshape = g.parent(transpose, 0, "Reshape") if transpose is not None else None
    expr = shape_expr(g, reshape.input[1]) if reshape is not None else None
    if expr and len(expr) == 4 and isinstance(expr[3], int) and expr[3] > 0:
        return expr[3]
    return None


# -- Casts ------------------------------------------------------------------------------------
def drop_identity_casts(g: Graph) -> int:
    """Cast to the type the tensor already has (known from shape inference) is a no-op."""
    done = 0
    for cast in g.nodes("Cast"):
        to = next(a.i for a in cast.attribute if a.name == "to")
        if g.dtype(cast.input[0]) == to and cast.output[0] not in g.graph_outputs:
            for user in list(g.consumers.get(cast.output[0], [])):
                for i, name in enumerate(user.input):
                    if name == cast.output[0]:
                        user.input[i] = cast.input[0]
            done += 1
    g.refresh()
    return done


def gather_indices_without_cast(g: Graph) -> int:
    """Gather(table, Cast(ids, int32)) -> Gather(table, ids): Gather takes int32 and int64 indices alike.

    TensorFlow casts int64 ids to int32 before its embedding lookups; the Cast hides the graph input
    from ORT's embedding fusion. Token ids are far below 2**31, so the values are the same.
    """
    done = 0
    for gather in g.nodes("Gather"):
        cast = g.parent(gather, 1, "Cast")
        if cast is None or g.dtype(cast.input[0]) not in INT_TYPES:
            continue
        if next(a.i for a in cast.attribute if a.name == "to") not in INT_TYPES:
            continue
        g.set_input(gather, 1, cast.input[0])
        done += 1
    return done


def attention_geometry(g: Graph) -> tuple[int, int] | None:
    """(heads, hidden size), from the Reshape to [batch, -1, heads, head_size] before the Q/K/V Transposes."""
    for transpose in g.nodes("Transpose"):
        reshape = g.parent(transpose, 0, "Reshape")
        if reshape is None:
            continue
        expr = shape_expr(g, reshape.input[1])
        if expr and len(expr) == 4 and all(isinstance(v, int) and v > 0 for v in expr[2:]):
            return expr[2], expr[2] * expr[3]
    return None


def rewrite_tf2onnx_bert(g: Graph) -> dict[str, int]:
    """Apply every rewrite; returns how many times each matched."""
    counts = {
        "dense_tensordot_collapsed": collapse_tensordot(g),
        "layer_norm_rewritten": fuse_tf_layer_norm(g),
        "exact_gelu_rewritten": fuse_exact_gelu(g),
        "attention_mask_normalized": normalize_attention_mask(g),
        "attention_scale_as_div": scale_scores_by_division(g),
        "identity_casts_dropped": drop_identity_casts(g),
        "embedding_index_casts_dropped": gather_indices_without_cast(g),
    }
    counts["dead_nodes_removed"] = g.remove_dead()
    g.toposort()
    return counts
