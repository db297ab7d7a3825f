#!/usr/bin/python3
"""PyTorch peer for benchmarks/conv_kernels: times the same layers in the same run.

Reads one layer per line on stdin:  NAME KIND N H W CIN COUT K S PADDING   (KIND: conv, depthwise, maxpool)
and prints one line per layer:       NAME_forward FORWARD_SECONDS NAME_both FORWARD_BACKWARD_SECONDS
(minimum over repetitions, channels_last tensors, torch.set_num_threads(THREADS) from argv[1]; the forward time is
the faster of eager and TorchScript-frozen).
TensorFlow's 'same' padding is applied as F.pad when asymmetric (symmetric cases use torch's own padding; max
pools that pad only at the end use ceil_mode), so torch runs the cheapest equivalent layer.
"""
import sys
import time

import torch
import torch.nn.functional as F


def same_pads(size, k, s):
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def min_time(f, budget=0.3, min_reps=3):
    f()
    best, start, i = 1e30, time.perf_counter(), 0
    while i < min_reps or time.perf_counter() - start < budget:
        t0 = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t0)
        i += 1
    return best


def layer(kind, n, h, w, cin, cout, k, s, padding):
    x = torch.rand(n, cin, h, w).to(memory_format=torch.channels_last)
    pad = (0, 0) if padding == "valid" else same_pads(h, k, s)
    pad_w = (0, 0) if padding == "valid" else same_pads(w, k, s)
    symmetric = pad[0] == pad[1] and pad_w[0] == pad_w[1]
    if kind == "maxpool":
        if symmetric:
            return x, None, lambda t: F.max_pool2d(t, k, s, padding=pad[0])
        return x, None, lambda t: F.max_pool2d(t, k, s, padding=pad[0], ceil_mode=True)
    groups = cin if kind == "depthwise" else 1
    weight = torch.rand(cout if kind == "conv" else cin, cin // groups, k, k).to(memory_format=torch.channels_last)
    if symmetric:
        return x, weight, lambda t: F.conv2d(t, weight, None, s, pad[0], 1, groups)
    return x, weight, lambda t: F.conv2d(F.pad(t, (pad_w[0], pad_w[1], pad[0], pad[1])), weight, None, s, 0, 1, groups)


class Layer(torch.nn.Module):
    def __init__(self, f):
        super().__init__()
        self.f = f

    def forward(self, t):
        return self.f(t)


def frozen(f, x):
    """The layer traced and frozen by TorchScript (constants folded, oneDNN's prepacked weights where it uses them),
    as PyTorch's inference guide advises; its forward, as a function of nothing."""
    module = torch.jit.freeze(torch.jit.trace(Layer(f).eval(), x))
    return lambda: module(x)


def main():
    torch.set_num_threads(int(sys.argv[1]))
    for line in sys.stdin:
        if not line.strip():
            continue
        name, kind, n, h, w, cin, cout, k, s, padding = line.split()
        x, weight, f = layer(kind, int(n), int(h), int(w), int(cin), int(cout), int(k), int(s), padding)
        with torch.no_grad():
            forward = min(min_time(lambda: f(x)), min_time(frozen(f, x)))
        x.requires_grad_(True)
        if weight is not None:
            weight.requires_grad_(True)
        y = f(x)
        g = torch.rand_like(y)

        def step():
            x.grad = None
            if weight is not None:
                weight.grad = None
            f(x).backward(g)

        both = min_time(step)
        print(name + "_forward", forward, name + "_both", both, flush=True)


if __name__ == "__main__":
    main()
