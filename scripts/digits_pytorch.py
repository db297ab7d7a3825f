#!/usr/bin/python3
"""The examples/digits recipe in PyTorch, for comparison: the same data, split, architecture, initialisers,
augmentation, loss, optimiser and schedule; prints the test accuracy of each seed and their mean, min and max.

Run with Debian's python3-torch:  /usr/bin/python3 scripts/digits_pytorch.py [--seeds 1-10] [--epochs 60]
(examples/digits.cpp and this script must agree: change both together.) The random draws (initial weights, order,
dropout, shifts) are PyTorch's own, so a seed here is not the same run as the same seed of examples/digits: compare
the seed-averaged accuracies.
"""
import argparse
import gzip
import math
import os
import time

import torch
import torch.nn as nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "examples", "data", "digits", "digits.csv.gz")
MASK64 = (1 << 64) - 1


def splitmix64(x):
    """One splitmix64 step of x: the hash that decides the split (as examples/digits.cpp)."""
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def load(split_seed=2026):
    """(train_x, train_y, test_x, test_y): images (N, 1, 8, 8) scaled to [0, 1]; row i is a test row when
    splitmix64(split_seed + i) % 5 == 0 (about a fifth)."""
    rows = [list(map(int, line.split(","))) for line in gzip.open(DATA, "rt") if line.strip()]
    x = torch.tensor([r[:64] for r in rows], dtype=torch.float32).reshape(-1, 1, 8, 8) / 16.0
    y = torch.tensor([r[64] for r in rows])
    test = torch.tensor([splitmix64(split_seed + i) % 5 == 0 for i in range(len(rows))])
    return x[~test], y[~test], x[test], y[test]


def conv_block(c_in, c_out):
    """Conv 3×3 'same' without bias → BatchNorm (Keras's momentum 0.99 and ε 1e-3, as libnn's) → ReLU."""
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out, eps=1e-3, momentum=0.01),
            nn.ReLU()]


def model(args):
    """Conv block 32 → max-pool 2 → conv block 64 → max-pool 2 → flatten → dropout → dense 64 ReLU → dropout →
    dense 10; glorot-uniform kernels and zero biases as Keras (and libnn's layers)."""
    m = nn.Sequential(
        *conv_block(1, 32), nn.MaxPool2d(2), *conv_block(32, 64), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(args.dropout), nn.Linear(64 * 2 * 2, 64), nn.ReLU(), nn.Dropout(args.dropout),
        nn.Linear(64, 10))
    for layer in m:
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
    return m


def shift(x, shift_range):
    """Each image moved by its own (dy, dx), each drawn uniformly from [-shift_range, shift_range], zeros coming in."""
    if shift_range == 0:
        return x
    n, r = len(x), shift_range
    padded = nn.functional.pad(x, (r, r, r, r))
    d = torch.randint(0, 2 * r + 1, (n, 2))
    return torch.stack([padded[i, :, d[i, 0]:d[i, 0] + 8, d[i, 1]:d[i, 1] + 8] for i in range(n)])


def run(seed, args):
    train_x, train_y, test_x, test_y = load()
    torch.manual_seed(seed)
    m = model(args)
    opt = torch.optim.AdamW(m.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    steps = math.ceil(len(train_x) / args.batch)
    total, warmup = args.epochs * steps, steps

    def rate(count):  # libnn's CosineWithWarmup per step: linear warm-up over one epoch, then a half cosine to 0
        if count < warmup:
            return (count + 1) / warmup
        return (1 + math.cos(math.pi * min(1.0, (count - warmup) / (total - warmup)))) / 2

    schedule = torch.optim.lr_scheduler.LambdaLR(opt, rate)
    for _ in range(args.epochs):
        m.train()
        order = torch.randperm(len(train_x))
        for start in range(0, len(order), args.batch):
            idx = order[start:start + args.batch]
            loss = nn.functional.cross_entropy(m(shift(train_x[idx], args.shift)), train_y[idx],
                                               label_smoothing=args.label_smoothing)
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
    m.eval()
    with torch.no_grad():
        accuracy = (m(test_x).argmax(1) == test_y).float().mean().item()
    return accuracy, len(train_x), len(test_x)


def seed_range(text):
    first, _, last = text.partition("-")
    return range(int(first), int(last or first) + 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=seed_range, default=seed_range("1-10"), help="FIRST-LAST (default 1-10)")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--dropout", type=float, default=0.3)
    parser.add_argument("--shift", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(1)
    accuracies = []
    for seed in args.seeds:
        start = time.time()
        accuracy, n_train, n_test = run(seed, args)
        accuracies.append(accuracy)
        print("seed %d: test accuracy %.2f %% (%d train, %d test images, %.1f s)"
              % (seed, 100 * accuracy, n_train, n_test, time.time() - start), flush=True)
    mean = sum(accuracies) / len(accuracies)
    print("PyTorch %s, %d seeds: mean test accuracy %.2f %% (min %.2f, max %.2f)"
          % (torch.__version__, len(accuracies), 100 * mean, 100 * min(accuracies), 100 * max(accuracies)))


if __name__ == "__main__":
    main()
