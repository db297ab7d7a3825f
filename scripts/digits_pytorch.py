#!/usr/bin/python3
"""The examples/digits model in PyTorch, for comparison: the same data, split, architecture, initialisers,
optimiser and schedule; prints the test accuracy of each seed and their mean.

Run with Debian's python3-torch:  /usr/bin/python3 scripts/digits_pytorch.py [--seeds 5] [--epochs 20]
(examples/digits.cpp and this script must agree: change both together.)
"""
import argparse
import gzip
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


def model():
    """Conv 3×3 32 'same' ReLU → max-pool 2 → conv 3×3 64 'same' ReLU → max-pool 2 → flatten → dropout 0.4 →
    dense 64 ReLU → dropout 0.4 → dense 10; glorot-uniform kernels and zero biases as Keras (and libnn's layers)."""
    m = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.4), nn.Linear(64 * 2 * 2, 64), nn.ReLU(), nn.Dropout(0.4), nn.Linear(64, 10))
    for layer in m:
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
    return m


def run(seed, epochs, batch, lr):
    train_x, train_y, test_x, test_y = load()
    torch.manual_seed(seed)
    m = model()
    opt = torch.optim.Adam(m.parameters(), lr=lr)
    for _ in range(epochs):
        m.train()
        order = torch.randperm(len(train_x))
        for start in range(0, len(order), batch):
            idx = order[start:start + batch]
            loss = nn.functional.cross_entropy(m(train_x[idx]), train_y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    m.eval()
    with torch.no_grad():
        accuracy = (m(test_x).argmax(1) == test_y).float().mean().item()
    return accuracy, len(train_x), len(test_x)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    accuracies = []
    for seed in range(args.seeds):
        start = time.time()
        accuracy, n_train, n_test = run(seed, args.epochs, args.batch, args.lr)
        accuracies.append(accuracy)
        print("seed %d: test accuracy %.2f %% (%d train, %d test images, %.1f s)"
              % (seed, 100 * accuracy, n_train, n_test, time.time() - start))
    mean = sum(accuracies) / len(accuracies)
    print("PyTorch %s, %d seeds: mean test accuracy %.2f %% (min %.2f, max %.2f)"
          % (torch.__version__, len(accuracies), 100 * mean, 100 * min(accuracies), 100 * max(accuracies)))


if __name__ == "__main__":
    main()
