#!/usr/bin/env python3
"""Cross-checks chainrule's safetensors files against an independent reader and writer (numpy + json only).

  check_safetensors.py read FILE    FILE was written by the C++ test "serialize: Python reads our file ...":
                                    checks the layout rules and every value; exit 0 if all hold
  check_safetensors.py write FILE   writes the file that the same test then loads in C++

The tensors, in both directions: element k of each is k * 0.25 - 3 in its dtype, with these names, dtypes and
shapes, in this order in the data section. When the `safetensors` package is installed, it reads the file too.
"""
import json
import struct
import sys

import numpy as np

EXPECTED = [  # name, dtype, shape
    ("layer.0.weight", "F32", [3, 2]),
    ("layer.0.bias", "F64", [2]),
    ("scalar", "F64", []),
    ("empty", "F32", [0, 3]),
]
METADATA = {"writer": "chainrule", "config": '{"layers": [3, 2]}'}
NP_DTYPE = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8")}


def values(dtype, shape):
    n = int(np.prod(shape, dtype=np.int64))
    return (np.arange(n, dtype=np.float64) * 0.25 - 3).astype(NP_DTYPE[dtype]).reshape(shape)


def fail(msg):
    print("check_safetensors.py: " + msg, file=sys.stderr)
    sys.exit(1)


def read(path):
    blob = open(path, "rb").read()
    (n,) = struct.unpack("<Q", blob[:8])
    if n % 8 != 0:
        fail(f"header length {n} is not a multiple of 8")
    text = blob[8 : 8 + n].decode("utf-8")
    if text.rstrip(" ") != text.rstrip():
        fail("header padding is not spaces")
    header = json.loads(text)
    data = blob[8 + n :]
    if header.pop("__metadata__", None) != METADATA:
        fail("metadata differs")
    names = list(header)
    if names != [e[0] for e in EXPECTED]:
        fail(f"names {names} differ from {[e[0] for e in EXPECTED]}")
    end = 0
    for name, dtype, shape in EXPECTED:
        info = header[name]
        if info["dtype"] != dtype or info["shape"] != shape:
            fail(f"{name}: {info['dtype']} {info['shape']}, expected {dtype} {shape}")
        begin, stop = info["data_offsets"]
        if begin != end:
            fail(f"{name}: begins at {begin}, the previous tensor ended at {end}")
        got = np.frombuffer(data[begin:stop], dtype=NP_DTYPE[dtype]).reshape(shape)
        if not np.array_equal(got, values(dtype, shape)):
            fail(f"{name}: values differ: {got}")
        end = stop
    if end != len(data):
        fail(f"tensors cover {end} of {len(data)} data bytes")
    try:
        from safetensors.numpy import load_file
    except ImportError:
        return
    loaded = load_file(path)
    for name, dtype, shape in EXPECTED:
        if not np.array_equal(loaded[name], values(dtype, shape)):
            fail(f"safetensors package: {name} differs")


def write(path):
    # Another writer's habits: spaced JSON, keys in reverse order of the data, no padding.
    header, chunks, offset = {}, [], 0
    for name, dtype, shape in EXPECTED:
        raw = values(dtype, shape).tobytes()
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    ordered = dict(reversed(list(header.items())))
    ordered["__metadata__"] = METADATA
    text = json.dumps(ordered).encode("utf-8")
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("read", "write"):
        fail("usage: check_safetensors.py read|write FILE")
    (read if sys.argv[1] == "read" else write)(sys.argv[2])
