#!/usr/bin/python3
"""Writes the PyTorch state dicts that tests/test_torch_state_dict.cpp loads with nn::load_torch_state_dict.

torch.nn.Sequential(Linear(4,3), BatchNorm1d(3), ReLU(), Linear(3,2)), seed 0, a few training steps so that the
running statistics and num_batches_tracked are not their defaults, saved three times as safetensors:
  torch_mlp_f32.safetensors   float32 (as torch keeps it)
  torch_mlp_f16.safetensors   float16 copies of the float tensors
  torch_mlp_bf16.safetensors  bfloat16 copies
num_batches_tracked stays I64 in each. torch_mlp.json holds the input and the eval-mode output of each file's
weights, computed by torch in float32 (for f16/bf16: the weights converted back to float32, as chainrule loads them).
The safetensors files are written by hand (the format: an 8-byte little-endian header length, a JSON header padded
with spaces to a multiple of 8, then the raw little-endian bytes), so the `safetensors` package is not needed.
Run: /usr/bin/python3 tests/reference/generate_torch_state_dict.py
"""
import json
import os
import struct

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
DTYPE_NAMES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64"}


def raw_bytes(t):
    flat = t.detach().contiguous().reshape(-1)
    if t.dtype in (torch.float16, torch.bfloat16):
        flat = flat.view(torch.int16)  # numpy has no bfloat16; the bits are what the file holds
    return flat.numpy().tobytes()


def write_safetensors(path, tensors):
    header, chunks, offset = {}, [], 0
    for name, t in tensors.items():
        data = raw_bytes(t)
        header[name] = {"dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def model():
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3), torch.nn.ReLU(), torch.nn.Linear(3, 2))


def main():
    torch.manual_seed(0)
    net = model()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for _ in range(5):  # moves weights, running statistics and num_batches_tracked off their initial values
        x = torch.randn(8, 4) * 2 + 0.5
        loss = net(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    x = torch.randn(5, 4)
    state = net.state_dict()
    expected = {"input": x.tolist()}
    for suffix, dtype in (("f32", torch.float32), ("f16", torch.float16), ("bf16", torch.bfloat16)):
        converted = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in state.items()}
        write_safetensors(os.path.join(HERE, "torch_mlp_%s.safetensors" % suffix), converted)
        check = model()
        check.load_state_dict({k: (v.float() if v.is_floating_point() else v) for k, v in converted.items()})
        check.eval()
        with torch.no_grad():
            expected["output_" + suffix] = check(x).tolist()
    with open(os.path.join(HERE, "torch_mlp.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
