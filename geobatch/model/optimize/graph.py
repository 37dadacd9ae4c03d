"""A small editable view of an ONNX graph, for the pattern rewrites in `rewrites.py`.

Rewrites replace the *last* node of a matched pattern by a new node that produces the same output
name, then `remove_dead()` drops whatever became unused. A rewrite therefore never changes what a
kept tensor means, even where a matched intermediate also feeds other nodes (those then stay).
"""

from __future__ import annotations

from collections import defaultdict, deque

import numpy as np
import onnx
from onnx import helper, numpy_helper

MS_DOMAIN = "com.microsoft"


class Graph:
    def __init__(self, model: onnx.ModelProto):
        self.model = model
        self.g = model.graph
        self._names: set[str] = set()
        self._shapes: dict[str, list[int | None]] | None = None
        self._dtypes: dict[str, int] = {}
        self.refresh()

    # -- indexes -----------------------------------------------------------------------------
    def refresh(self) -> None:
        """Rebuild the producer/consumer indexes after the node list changed."""
        self.producer: dict[str, onnx.NodeProto] = {}
        self.consumers: dict[str, list[onnx.NodeProto]] = defaultdict(list)
        for node in self.g.node:
            for out in node.output:
                self.producer[out] = node
            for inp in node.input:
                if inp:
                    self.consumers[inp].append(node)
        self.initializers = {t.name: t for t in self.g.initializer}
        self.graph_outputs = {o.name for o in self.g.output}
        self._names = {n.name for n in self.g.node} | set(self.producer) | set(self.initializers)
        self._names |= {i.name for i in self.g.input}

    def _infer(self) -> None:
        """Shapes and element types from ONNX shape inference, computed once before any rewrite."""
        inferred = onnx.shape_inference.infer_shapes(self.model)
        self._shapes = {}
        for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
            tt = vi.type.tensor_type
            self._dtypes[vi.name] = tt.elem_type
            if tt.HasField("shape"):
                self._shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
        for t in self.g.initializer:
            self._shapes[t.name] = list(t.dims)
            self._dtypes[t.name] = t.data_type

    def shape(self, name: str) -> list[int | None] | None:
        """Static dims (None where dynamic) of a tensor of the original graph, or None if the rank is unknown."""
        if self._shapes is None:
            self._infer()
        return self._shapes.get(name)

    def rank(self, name: str) -> int | None:
        shape = self.shape(name)
        return None if shape is None else len(shape)

    def dtype(self, name: str) -> int | None:
        if self._shapes is None:
            self._infer()
        return self._dtypes.get(name) or None

    def const(self, name: str) -> np.ndarray | None:
        """The value of an initializer or Constant node output, else None."""
        if name in self.initializers:
            return numpy_helper.to_array(self.initializers[name])
        node = self.producer.get(name)
        if node is not None and node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            for attr in node.attribute:
                if attr.name == "value":
                    return numpy_helper.to_array(attr.t)
        return None

    def scalar(self, name: str) -> float | None:
        value = self.const(name)
        if value is None or value.size != 1:
            return None
        return float(value.reshape(()))

    def parent(self, node: onnx.NodeProto, index: int, op_type: str | None = None) -> onnx.NodeProto | None:
        if index >= len(node.input):
            return None
        parent = self.producer.get(node.input[index])
        if parent is None or (op_type is not None and parent.op_type != op_type):
            return None
        return parent

    def nodes(self, op_type: str) -> list[onnx.NodeProto]:
        return [n for n in self.g.node if n.op_type == op_type]

    # -- edits -------------------------------------------------------------------------------
    def unique(self, hint: str) -> str:
        name, i = hint, 0
        while name in self._names:
            i += 1
            name = f"{hint}_{i}"
        self._names.add(name)
        return name

    def add_initializer(self, hint: str, value: np.ndarray) -> str:
        name = self.unique(hint)
        tensor = numpy_helper.from_array(np.asarray(value), name)
        self.g.initializer.append(tensor)
        self.initializers[name] = tensor
        return name

    def make_node(self, op_type: str, inputs: list[str], outputs: list[str] | None = None,
                  domain: str = "", **attrs) -> onnx.NodeProto:
        name = self.unique(f"geobatch/{op_type}")
        if domain and all(o.domain != domain for o in self.model.opset_import):
            self.model.opset_import.append(helper.make_opsetid(domain, 1))
        outputs = outputs or [self.unique(f"{name}:0")]
        return helper.make_node(op_type, inputs, outputs, name=name, domain=domain or None, **attrs)

    def replace(self, old: onnx.NodeProto, new_nodes: list[onnx.NodeProto]) -> None:
        """Put new_nodes where `old` stands; the last new node must produce old's outputs."""
        assert list(new_nodes[-1].output) == list(old.output), "replacement must keep the output names"
        position = list(self.g.node).index(old)
        self.g.node.remove(old)
        for offset, node in enumerate(new_nodes):
            self.g.node.insert(position + offset, node)
        self.refresh()

    def set_input(self, node: onnx.NodeProto, index: int, name: str) -> None:
        node.input[index] = name
        self.refresh()

    def remove_dead(self) -> int:
        """Drop nodes whose outputs nothing uses, and initializers nothing reads; returns nodes removed."""
        removed = 0
        while True:
            used = {i for n in self.g.node for i in n.input} | self.graph_outputs
            dead = [n for n in self.g.node if not any(o in used for o in n.output)]
            if not dead:
                break
            for node in dead:
                self.g.node.remove(node)
            removed += len(dead)
        used = {i for n in self.g.node for i in n.input}
        for tensor in [t for t in self.g.initializer if t.name not in used and t.name not in self.graph_outputs]:
            self.g.initializer.remove(tensor)
        self.refresh()
        return removed

    def toposort(self) -> None:
        """Order nodes so that each comes after its producers (stable for an already sorted graph)."""
        nodes = list(self.g.node)
        available = {i.name for i in self.g.input} | set(self.initializers) | {""}
        missing = {id(n): {i for i in n.input if i not in available} for n in nodes}
        by_input = defaultdict(list)
        for node in nodes:
            for inp in missing[id(node)]:
                by_input[inp].append(node)
        ready = deque(n for n in nodes if not missing[id(n)])
        order = []
        while ready:
            node = ready.popleft()
            order.append(node)
            for out in node.output:
                for child in by_input.pop(out, []):
                    missing[id(child)].discard(out)
                    if not missing[id(child)]:
                        ready.append(child)
        if len(order) != len(nodes):
            raise ValueError("graph has a cycle or an input no node produces")
        del self.g.node[:]
        self.g.node.extend(order)
        self.refresh()
