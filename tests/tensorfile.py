"""Read and write safetensors files with Python + numpy only.

This is the exchange format between the C tests and the Python oracle (tests/ref_model.py).

Layout (https://huggingface.co/docs/safetensors): an 8-byte little-endian unsigned header
length N, then N bytes of JSON:
    {"NAME": {"dtype": "F32", "shape": [2, 3], "data_offsets": [BEGIN, END]}, ...,
     "__metadata__": {"KEY": "VALUE", ...}}            (metadata optional, str -> str)
then the data block; offsets are relative to the start of the data block, little-endian,
row-major. dtypes handled: F64, F32, F16, BF16, I64, I32 (plus I16, I8, U8, BOOL on read).

API:
    tensors, metadata = load(path)         # dict name -> numpy array, dict str -> str
    save(path, tensors, metadata=None)      # arrays keep their dtype (float64 -> F64, ...)
    bf16 is returned as float32 on read; to write BF16 pass dtypes={"name": "BF16"}.
"""

import json
import struct

import numpy as np

_NP_OF = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
_CODE_OF = {v.str: k for k, v in _NP_OF.items()}

MAX_HEADER = 100 * 1024 * 1024


class FormatError(ValueError):
    pass


def _bf16_to_f32(raw):
    u16 = np.frombuffer(raw, dtype="<u2").astype(np.uint32)
    return (u16 << 16).view(np.float32)


def _f32_to_bf16(a):
    """Round to nearest even, as torch does; NaN stays NaN."""
    u32 = np.ascontiguousarray(a, dtype="<f4").view(np.uint32).astype(np.uint64)
    rounded = (u32 + 0x7FFF + ((u32 >> 16) & 1)) >> 16
    nan = np.isnan(np.asarray(a, dtype=np.float32))
    out = rounded.astype(np.uint16)
    out[nan.reshape(out.shape)] = 0x7FC0
    return out.astype("<u2")


def load(path):
    """Returns (tensors: dict name -> numpy array, metadata: dict str -> str)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise FormatError(f"{path}: shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", data[:8])
    if n > MAX_HEADER or 8 + n > len(data):
        raise FormatError(f"{path}: header length {n} exceeds the file ({len(data)} bytes)")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise FormatError(f"{path}: header is not JSON: {e}") from e
    if not isinstance(header, dict):
        raise FormatError(f"{path}: header must be a JSON object")
    body = memoryview(data)[8 + n:]
    metadata = header.pop("__metadata__", None) or {}
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise FormatError(f"{path}: __metadata__ must map strings to strings")
    tensors = {}
    for name, info in header.items():
        try:
            dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        except (KeyError, TypeError, ValueError) as e:
            raise FormatError(f"{path}: tensor {name!r}: malformed entry {info!r}") from e
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if dtype == "BF16":
            itemsize = 2
        elif dtype in _NP_OF:
            itemsize = _NP_OF[dtype].itemsize
        else:
            raise FormatError(f"{path}: tensor {name!r}: unsupported dtype {dtype}")
        if not (0 <= begin <= end <= len(body)) or end - begin != count * itemsize:
            raise FormatError(
                f"{path}: tensor {name!r}: data_offsets {begin},{end} do not fit shape "
                f"{shape} x {itemsize} bytes within a data block of {len(body)} bytes")
        raw = body[begin:end]
        if dtype == "BF16":
            arr = _bf16_to_f32(raw)
        else:
            arr = np.frombuffer(raw, dtype=_NP_OF[dtype]).copy()
        tensors[name] = arr.reshape(shape)
    return tensors, dict(metadata)


def save(path, tensors, metadata=None, dtypes=None):
    """Writes tensors (dict name -> array-like; torch tensors are accepted) in order of
    the dict. dtypes may override the stored type per name ("F32", "BF16", ...)."""
    dtypes = dtypes or {}
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name, value in tensors.items():
        if hasattr(value, "detach"):
            value = value.detach().cpu().numpy()
        arr = np.asarray(value)
        code = dtypes.get(name)
        if code is None:
            code = _CODE_OF.get(arr.dtype.newbyteorder("<").str)
            if code is None:
                raise FormatError(f"tensor {name!r}: no safetensors dtype for {arr.dtype}")
        if code == "BF16":
            raw = _f32_to_bf16(arr).tobytes()
        else:
            raw = np.ascontiguousarray(arr, dtype=_NP_OF[code]).tobytes()
        header[name] = {"dtype": code, "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    hbytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hbytes += b" " * (-len(hbytes) % 8)  # keeps the data block 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hbytes)))
        f.write(hbytes)
        for b in blobs:
            f.write(b)


if __name__ == "__main__":
    import sys
    import tempfile
    import os
    if len(sys.argv) == 2:
        t, m = load(sys.argv[1])
        for k, v in m.items():
            print(f"meta {k} = {v}")
        for k, v in t.items():
            print(f"{k} {v.dtype} {list(v.shape)}")
        sys.exit(0)
    # self-test: round trip of every dtype
    rng = np.random.default_rng(0)
    ts = {
        "f64": rng.standard_normal((2, 3)),
        "f32": rng.standard_normal((4,)).astype(np.float32),
        "f16": rng.standard_normal((3, 1)).astype(np.float16),
        "i32": np.arange(6, dtype=np.int32).reshape(2, 3),
        "i64": np.array([-1, 2**40], dtype=np.int64),
        "bf": np.array([1.0, -2.5, 3.140625], dtype=np.float32),
        "scalar": np.array(5.0),
    }
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "x.safetensors")
        save(p, ts, {"a": "b"}, dtypes={"bf": "BF16"})
        back, meta = load(p)
    assert meta == {"a": "b"}
    for k, v in ts.items():
        assert back[k].shape == v.shape and np.array_equal(back[k], v), k
    print("tensorfile selftest ok")
