#!/usr/bin/python3
"""PyTorch peer for benchmarks/caption's end-to-end row: train_shapes's default captioner — a compact Xception
(Keras's layout, every filter count × WIDTH rounded, MIDDLE middle blocks, TF 'same' pooling at any size) on SIZE×SIZE
images, its pooled features into the merge decoder (Dense 256 on the image; Embedding → LSTM 256 on the words; add,
Dense 256, Dense V) — trained by teacher forcing with Adam, eager channels_last, the decoder's head on the real words
only, as libnn trains it.

  torch_shapes.py THREADS V BATCH SIZE WIDTH MIDDLE  →  "shapes_step_s S tokens T"   (minimum seconds of a step)
"""
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_xception import Middle, SepConv, Xception  # noqa: E402  (shared with the full-width peer)


def same_max_pool(x):
    """3×3/2 max-pool with TensorFlow's 'same' padding (the extra row and column at the end), -inf padded."""
    pads = []
    for size in (x.shape[3], x.shape[2]):
        out = math.ceil(size / 2)
        total = max((out - 1) * 2 + 3 - size, 0)
        pads += [total // 2, total - total // 2]
    return F.max_pool2d(F.pad(x, pads, value=float("-inf")), 3, 2)


class Down(nn.Module):
    """torch_xception's down block with 'same' pooling computed from the input's size (any image size)."""

    def __init__(self, cin, cout, relu_first):
        super().__init__()
        self.relu_first = relu_first
        self.sep1, self.sep2 = SepConv(cin, cout), SepConv(cout, cout)
        self.residual = nn.Conv2d(cin, cout, 1, stride=2, bias=False)
        self.residual_bn = nn.BatchNorm2d(cout, eps=1e-3)

    def forward(self, x):
        y = self.sep1(F.relu(x) if self.relu_first else x)
        y = same_max_pool(self.sep2(F.relu(y)))
        return y + self.residual_bn(self.residual(x))


class CompactXception(Xception):
    """torch_xception's Xception (its forward) with every filter count × width, `middle` middle blocks and 'same'
    pooling at any size."""

    def __init__(self, width, middle):
        nn.Module.__init__(self)  # the layers below, not the full-width ones Xception.__init__ builds
        f = lambda c: max(1, round(c * width))  # noqa: E731 (libnn: lround(c · width))
        self.conv1, self.bn1 = nn.Conv2d(3, f(32), 3, stride=2, bias=False), nn.BatchNorm2d(f(32), eps=1e-3)
        self.conv2, self.bn2 = nn.Conv2d(f(32), f(64), 3, bias=False), nn.BatchNorm2d(f(64), eps=1e-3)
        self.entry = nn.Sequential(Down(f(64), f(128), False), Down(f(128), f(256), True), Down(f(256), f(728), True))
        self.middle = nn.Sequential(*[Middle(f(728)) for _ in range(middle)])
        self.exit = Down(f(728), f(1024), True)
        self.sep14a, self.sep14b = SepConv(f(1024), f(1536)), SepConv(f(1536), f(2048))
        self.features = f(2048)


class Captioner(nn.Module):
    def __init__(self, vocab, width, middle, units=256):
        super().__init__()
        self.cnn = CompactXception(width, middle)
        self.image = nn.Linear(self.cnn.features, units)
        self.embedding = nn.Embedding(vocab, units, padding_idx=0)
        self.lstm = nn.LSTM(units, units, batch_first=True)
        self.merge = nn.Linear(units, units)
        self.out = nn.Linear(units, vocab)

    def forward(self, images, ids, real):
        image = F.relu(self.image(self.cnn(images)))
        words, _ = self.lstm(self.embedding(ids))
        return self.out(F.relu(self.merge((words + image[:, None, :])[real])))


def main():
    threads, vocab, batch, size = (int(a) for a in sys.argv[1:5])
    width, middle = float(sys.argv[5]), int(sys.argv[6])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = Captioner(vocab, width, middle).to(memory_format=torch.channels_last)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    g = torch.Generator().manual_seed(2)
    lengths = torch.randint(6, 13, (batch,), generator=g)  # captions of 6–12 words, as benchmarks/caption draws
    t = int(lengths.max())
    real = torch.arange(t)[None, :] < lengths[:, None]
    ids = torch.randint(4, vocab, (batch, t), generator=g) * real
    targets = torch.randint(4, vocab, (batch, t), generator=g)[real]
    images = (torch.rand(batch, 3, size, size, generator=g) * 2 - 1).to(memory_format=torch.channels_last)

    def step():
        opt.zero_grad()
        F.cross_entropy(model(images, ids, real), targets).backward()
        opt.step()

    step()
    best, start, i = 1e30, time.perf_counter(), 0
    while i < 3 or (time.perf_counter() - start < 3.0 and i < 50):
        t0 = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - t0)
        i += 1
    print("shapes_step_s", best, "tokens", int(real.sum()), flush=True)


if __name__ == "__main__":
    main()
