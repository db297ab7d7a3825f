#!/usr/bin/python3
"""PyTorch peer for benchmarks/xception: Keras's Xception in torch (random weights), timed in eager mode and
TorchScript-frozen with channels_last (its best configuration on CPU), at batch 1 and batch 8; then the same frozen
channels_last model traced and run under torch.autocast("cpu", dtype=torch.bfloat16) (oneDNN's bf16 kernels, on
AVX512_BF16/AMX where the processor has them); and a training step (forward and backward, batch 8, eager
channels_last in training mode).

  torch_xception.py THREADS   →   lines "eager_b1 S", "frozen_b1 S", "frozen_b8 S", "peak_rss_mb M",
                                  "bf16_b1 S", "bf16_b8 S", "train_b8 S"
(minimum seconds over repetitions; peak resident memory of this process after the f32 batch-1 runs).
"""
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class SepConv(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-3)

    def forward(self, x):
        return self.bn(self.pointwise(self.depthwise(x)))


class Down(nn.Module):
    """Two separable convolutions and a 3×3/2 'same' max-pool, plus a strided 1×1 shortcut."""

    def __init__(self, cin, cout, relu_first, pool_pad):
        super().__init__()
        self.relu_first = relu_first
        self.sep1, self.sep2 = SepConv(cin, cout), SepConv(cout, cout)
        self.residual = nn.Conv2d(cin, cout, 1, stride=2, bias=False)
        self.residual_bn = nn.BatchNorm2d(cout, eps=1e-3)
        self.pool_pad = pool_pad  # TF 'same': symmetric 1, or (0, 1) done as ceil_mode

    def forward(self, x):
        y = self.sep1(F.relu(x) if self.relu_first else x)
        y = self.sep2(F.relu(y))
        if self.pool_pad:
            y = F.max_pool2d(y, 3, 2, padding=1)
        else:
            y = F.max_pool2d(y, 3, 2, ceil_mode=True)
        return y + self.residual_bn(self.residual(x))


class Middle(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.seps = nn.ModuleList([SepConv(c, c) for _ in range(3)])

    def forward(self, x):
        y = x
        for sep in self.seps:
            y = sep(F.relu(y))
        return y + x


class Xception(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 32, 3, stride=2, bias=False), nn.BatchNorm2d(32, eps=1e-3)
        self.conv2, self.bn2 = nn.Conv2d(32, 64, 3, bias=False), nn.BatchNorm2d(64, eps=1e-3)
        # 147 → 74 (pad 1, 1), 74 → 37 (pad 0, 1), 37 → 19 (1, 1); exit 19 → 10 (1, 1)
        self.entry = nn.Sequential(Down(64, 128, False, True), Down(128, 256, True, False), Down(256, 728, True, True))
        self.middle = nn.Sequential(*[Middle(728) for _ in range(8)])
        self.exit = Down(728, 1024, True, True)
        self.sep14a, self.sep14b = SepConv(1024, 1536), SepConv(1536, 2048)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = self.exit(self.middle(self.entry(x)))
        x = F.relu(self.sep14b(F.relu(self.sep14a(x))))
        return x.mean(dim=(2, 3))


def min_time(f, reps=5, budget=3.0):
    f()
    best, start, i = 1e30, time.perf_counter(), 0
    while i < reps or (time.perf_counter() - start < budget and i < 50):
        t0 = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t0)
        i += 1
    return best


def main():
    torch.set_num_threads(int(sys.argv[1]))
    model = Xception().eval()
    x1, x8 = torch.rand(1, 3, 299, 299), torch.rand(8, 3, 299, 299)
    with torch.no_grad():
        print("eager_b1", min_time(lambda: model(x1)), flush=True)
        cl = model.to(memory_format=torch.channels_last)
        frozen = torch.jit.freeze(torch.jit.trace(cl, x1.to(memory_format=torch.channels_last)))
        x1c, x8c = x1.to(memory_format=torch.channels_last), x8.to(memory_format=torch.channels_last)
        print("frozen_b1", min_time(lambda: frozen(x1c)), flush=True)
        print("peak_rss_mb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, flush=True)
        print("frozen_b8", min_time(lambda: frozen(x8c), reps=3), flush=True)
        # bf16: autocast must be on while tracing, so that the casts are part of the frozen graph.
        with torch.autocast("cpu", dtype=torch.bfloat16):
            frozen_bf16 = torch.jit.freeze(torch.jit.trace(cl, x1c, check_trace=False))
            print("bf16_b1", min_time(lambda: frozen_bf16(x1c)), flush=True)
            print("bf16_b8", min_time(lambda: frozen_bf16(x8c), reps=3), flush=True)
    print("train_b8", train_step_time(cl, x8), flush=True)


def train_step_time(model, x8):
    """Forward and backward at batch 8 in training mode (batch statistics), eager channels_last — what end-to-end
    training runs (TorchScript is for inference); the gradients of the pooled features' sum."""
    model.train()
    x = x8.to(memory_format=torch.channels_last)

    def step():
        model.zero_grad(set_to_none=True)
        model(x).sum().backward()

    return min_time(step, reps=3)


if __name__ == "__main__":
    main()
