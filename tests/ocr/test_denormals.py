"""Denormal float32 weights of an ONNX model zeroed in the protobuf bytes (ocr.denormals)."""

from __future__ import annotations

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from ocr.denormals import ModelFormatError, flush_denormals, session_source
from ocr.plate_rec import DEFAULT_MODEL
from ocr.sessions import WHEEL_DETECTOR, open_session, wheel_model_path

DENORMAL = 1e-40  # below float32's smallest normal (1.18e-38), above 0


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _bytes_field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _int_field(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _floats(values) -> bytes:
    return np.asarray(values, "<f4").tobytes()


def _tensor(name: str, data_type: int, payload: bytes, packed: bool = False) -> bytes:
    # TensorProto: dims 1, data_type 2, float_data 4 (packed), name 8, raw_data 9
    data = _bytes_field(4, payload) if packed else _bytes_field(9, payload)
    return _int_field(1, len(payload) // 4) + _int_field(2, data_type) + _bytes_field(8, name.encode()) + data


def _model(*graph_fields: bytes, opset: bytes = b"") -> bytes:
    # ModelProto: ir_version (field 1) 8, graph 7, opset_import 8
    return _int_field(1, 8) + _bytes_field(7, b"".join(graph_fields)) + opset


def mul_model(weight: float) -> bytes:
    """A valid ONNX model ``Y = X * W`` (float32, shape [1]) with ``W`` an initializer."""
    dim = _bytes_field(2, _bytes_field(1, _int_field(1, 1)))  # shape [1]
    tensor_type = _bytes_field(1, _int_field(1, 1) + dim)  # float tensor
    x = _bytes_field(1, b"X") + _bytes_field(2, tensor_type)
    y = _bytes_field(1, b"Y") + _bytes_field(2, tensor_type)
    node = _bytes_field(1, b"X") + _bytes_field(1, b"W") + _bytes_field(2, b"Y") + _bytes_field(4, b"Mul")
    opset = _bytes_field(8, _bytes_field(1, b"") + _int_field(2, 13))  # default domain, opset 13
    return _model(
        _bytes_field(1, node),
        _bytes_field(2, b"g"),
        _bytes_field(5, _tensor("W", 1, _floats([weight]))),
        _bytes_field(11, x),
        _bytes_field(12, y),
        opset=opset,
    )


def test_the_product_session_multiplies_by_zero_where_the_file_has_a_denormal(tmp_path):
    path = tmp_path / "mul.onnx"
    path.write_bytes(mul_model(DENORMAL))
    x = {"X": np.asarray([1e30], np.float32)}
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    as_stored = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"]).run(None, x)[0]
    assert as_stored[0] == pytest.approx(1e-10, rel=1e-3)  # the denormal weight counts as the file says
    assert open_session(path, threads=1).run(None, x)[0][0] == 0.0


def test_zeroes_denormal_floats_in_raw_and_packed_data_and_subgraphs_only():
    raw = _floats([1.5, DENORMAL, -DENORMAL, 0.0, 3e-38, -2.0])
    packed = _floats([DENORMAL, 7.0])
    ints = np.asarray([1, 2, 3], "<i4").tobytes()  # int 1 is the bit pattern of a denormal float
    inner = _floats([DENORMAL, DENORMAL, 4.0])
    subgraph = _bytes_field(5, _tensor("inner", 1, inner))
    attribute = _bytes_field(1, b"then_branch") + _bytes_field(6, subgraph)  # AttributeProto.g
    node = _bytes_field(5, attribute)  # NodeProto.attribute
    model = _model(
        _bytes_field(5, _tensor("w", 1, raw)),
        _bytes_field(5, _tensor("p", 1, packed, packed=True)),
        _bytes_field(5, _tensor("i", 6, ints)),
        _bytes_field(1, node),
    )
    flushed, count = flush_denormals(model)
    assert count == 5
    assert len(flushed) == len(model)
    raw_at, packed_at, ints_at, inner_at = (model.index(p) for p in (raw, packed, ints, inner))
    assert np.frombuffer(flushed, "<f4", 6, raw_at).tolist() == pytest.approx([1.5, 0, 0, 0, 3e-38, -2.0])
    assert np.frombuffer(flushed, "<f4", 2, packed_at).tolist() == [0.0, 7.0]
    assert np.frombuffer(flushed, "<i4", 3, ints_at).tolist() == [1, 2, 3]
    assert np.frombuffer(flushed, "<f4", 3, inner_at).tolist() == [0.0, 0.0, 4.0]
    # Everything else is the same bytes.
    same = np.frombuffer(flushed, np.uint8) == np.frombuffer(model, np.uint8)
    assert (~same).sum() <= 5 * 4


def test_a_model_without_denormals_comes_back_byte_for_byte():
    model = DEFAULT_MODEL.read_bytes()
    flushed, count = flush_denormals(model)
    assert count == 0
    assert flushed == model


@pytest.mark.parametrize(
    "model",
    [
        b"\x3a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",  # field 7 with an overlong length varint
        _int_field(1, 8) + b"\x3a\x10" + b"\x00" * 4,  # field 7 longer than the bytes left
        b"\x0b\x00\x0c",  # a group (wire type 3)
        b"not an onnx model",
    ],
)
def test_bytes_that_are_not_an_onnx_model_are_refused(model):
    with pytest.raises(ModelFormatError):
        flush_denormals(model)


def test_the_wheel_text_detector_reads_the_same_without_its_denormals():
    path = wheel_model_path(WHEEL_DETECTOR)
    original = path.read_bytes()
    _, count = flush_denormals(original)
    assert count > 100_000  # PP-OCRv6 small: 255,958, most in two 1x1 convolutions
    image = np.full((160, 320, 3), 235, np.uint8)
    cv2.putText(image, "7ABC123", (20, 105), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (20, 20, 20), 5)
    blob = (image.astype(np.float32).transpose(2, 0, 1)[None] / 127.5) - 1.0
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    before = ort.InferenceSession(original, options, providers=["CPUExecutionProvider"])
    after = open_session(path, threads=1)  # the product's way: flushed on load
    name = before.get_inputs()[0].name
    a, b = before.run(None, {name: blob})[0], after.run(None, {name: blob})[0]
    assert a.max() > 0.9  # the text is found at all
    np.testing.assert_allclose(b, a, atol=1e-5)


def test_a_session_loads_a_model_without_denormals_from_its_path(tmp_path):
    path = tmp_path / "mul.onnx"
    path.write_bytes(mul_model(0.5))
    assert session_source(path) == str(path)  # external data, if any, is found beside it
    path.write_bytes(mul_model(DENORMAL))
    assert isinstance(session_source(path), bytes)
