"""Denormal float32 weights of an ONNX model set to zero, without the ``onnx`` package.

A denormal (subnormal) float32 is a non-zero value below 1.18e-38. x86 CPUs multiply with one
on a slow path (microcode assists), and ONNX Runtime flushes denormals to zero only in its own
pool threads (``session.set_denormal_as_zero``), never in the thread that calls ``run``: with one
intra-op thread, as the product runs OCR, nothing is flushed. PP-OCRv6's small text detector
(inside the ``rapidocr`` wheel) holds 255,958 denormal weights, most of them in two 1x1
convolutions at 1/32 scale, which then take 60% of its time: zeroing them makes it about 3x
faster on one core. What they are worth is below 1e-38 times an
activation, so the model's outputs do not change (``tests/ocr/test_denormals.py`` compares).

The model is protobuf; float32 tensors keep their values either as ``raw_data`` (little-endian
bytes) or as a packed ``float_data`` field, both 4 bytes per value. Zeroing a value keeps its 4
bytes, so the file is edited in place and nothing is re-encoded: this module walks only the wire
format down to ``ModelProto.graph.initializer`` (and subgraphs of nodes' attributes).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

# Field numbers of onnx.proto (onnx/onnx.proto3) on the path to a float tensor's values.
_MODEL_GRAPH = 7  # ModelProto.graph: GraphProto
_GRAPH_NODE = 1  # GraphProto.node: NodeProto
_GRAPH_INITIALIZER = 5  # GraphProto.initializer: TensorProto
_NODE_ATTRIBUTE = 5  # NodeProto.attribute: AttributeProto
_ATTRIBUTE_T = 5  # AttributeProto.t: TensorProto
_ATTRIBUTE_G = 6  # AttributeProto.g: GraphProto
_ATTRIBUTE_TENSORS = 10  # AttributeProto.tensors: TensorProto
_ATTRIBUTE_GRAPHS = 11  # AttributeProto.graphs: GraphProto
_TENSOR_DATA_TYPE = 2  # TensorProto.data_type: 1 = FLOAT
_TENSOR_FLOAT_DATA = 4  # TensorProto.float_data, packed
_TENSOR_RAW_DATA = 9  # TensorProto.raw_data
_FLOAT = 1

_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5
_TINY = np.finfo(np.float32).tiny


class ModelFormatError(ValueError):
    """The bytes are not a protobuf message of the shape an ONNX model has."""


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ModelFormatError("truncated or overlong varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _fields(buf: memoryview, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """``(field number, wire type, value or payload start, payload end)`` of each field."""
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == _VARINT:
            value, pos = _varint(buf, pos)
            yield number, wire, value, pos
        elif wire == _FIXED64:
            pos += 8
            yield number, wire, pos - 8, pos
        elif wire == _FIXED32:
            pos += 4
            yield number, wire, pos - 4, pos
        elif wire == _BYTES:
            length, pos = _varint(buf, pos)
            if pos + length > end:
                raise ModelFormatError("a field runs past the end of its message")
            yield number, wire, pos, pos + length
            pos += length
        else:
            raise ModelFormatError(f"wire type {wire} (groups) has no place in an ONNX model")
    if pos != end:
        raise ModelFormatError("a field runs past the end of its message")


def _zero(data: bytearray, start: int, end: int) -> int:
    if (end - start) % 4:
        raise ModelFormatError("float32 values of a tensor do not fill whole 4-byte words")
    values = np.frombuffer(data, dtype="<f4", count=(end - start) // 4, offset=start)  # writable view
    tiny = (values != 0) & (np.abs(values) < _TINY)
    values[tiny] = 0.0
    return int(tiny.sum())


def _tensor(data: bytearray, view: memoryview, start: int, end: int) -> int:
    dtype, spans = None, []
    for number, wire, a, b in _fields(view, start, end):
        if number == _TENSOR_DATA_TYPE and wire == _VARINT:
            dtype = a
        elif number in (_TENSOR_RAW_DATA, _TENSOR_FLOAT_DATA) and wire == _BYTES:
            spans.append((a, b))
    if dtype != _FLOAT:
        return 0
    return sum(_zero(data, a, b) for a, b in spans)


def _attribute(data: bytearray, view: memoryview, start: int, end: int) -> int:
    count = 0
    for number, wire, a, b in _fields(view, start, end):
        if wire != _BYTES:
            continue
        if number in (_ATTRIBUTE_T, _ATTRIBUTE_TENSORS):
            count += _tensor(data, view, a, b)
        elif number in (_ATTRIBUTE_G, _ATTRIBUTE_GRAPHS):
            count += _graph(data, view, a, b)
    return count


def _graph(data: bytearray, view: memoryview, start: int, end: int) -> int:
    count = 0
    for number, wire, a, b in _fields(view, start, end):
        if wire != _BYTES:
            continue
        if number == _GRAPH_INITIALIZER:
            count += _tensor(data, view, a, b)
        elif number == _GRAPH_NODE:
            for n_number, n_wire, na, nb in _fields(view, a, b):
                if n_number == _NODE_ATTRIBUTE and n_wire == _BYTES:
                    count += _attribute(data, view, na, nb)
    return count


def flush_denormals(model: bytes) -> tuple[bytes, int]:
    """``model`` (a serialised ONNX ModelProto) with every denormal float32 weight set to 0, and
    how many there were. :class:`ModelFormatError` when the bytes are not protobuf of that shape."""
    data = bytearray(model)
    view = memoryview(data)
    count = 0
    try:
        for number, wire, a, b in _fields(view, 0, len(data)):
            if number == _MODEL_GRAPH and wire == _BYTES:
                count += _graph(data, view, a, b)
    finally:
        view.release()
    return (bytes(data), count) if count else (model, 0)


def session_source(path: Path) -> bytes | str:
    """What to give ``onnxruntime.InferenceSession`` for the model at ``path``: its bytes with the
    denormal weights zeroed, or its path when it has none (a model with external data, which loads
    only from its path, then loads as before). :class:`OSError` or :class:`ModelFormatError` when
    the file cannot be read as a model."""
    model, flushed = flush_denormals(path.read_bytes())
    return model if flushed else str(path)
