#!/usr/bin/python3
"""PyTorch peer for benchmarks/caption: the merge caption model (Dense on the image, Embedding → LSTM on the words,
add, Dense, Dense V) trained by teacher forcing with Adam — the head on the real positions only, as libnn trains — and
greedy decoding of 20 words.

  torch_caption.py THREADS V BATCH  →  lines "train_step_s S tokens T" and "greedy20_s S"   (minimum seconds)
"""
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Merge(nn.Module):
    def __init__(self, vocab, features=2048, units=256):
        super().__init__()
        self.image = nn.Linear(features, units)
        self.embedding = nn.Embedding(vocab, units, padding_idx=0)
        self.lstm = nn.LSTM(units, units, batch_first=True)
        self.merge = nn.Linear(units, units)
        self.out = nn.Linear(units, vocab)

    def forward(self, features, ids, real):
        """Logits of the real (non-padded) positions only, (R, V): the head skips the padding, as libnn's does."""
        image = F.relu(self.image(features))
        words, _ = self.lstm(self.embedding(ids))
        return self.out(F.relu(self.merge((words + image[:, None, :])[real])))


def min_time(f, reps=5, budget=2.0):
    f()
    best, start, i = 1e30, time.perf_counter(), 0
    while i < reps or (time.perf_counter() - start < budget and i < 200):
        t0 = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t0)
        i += 1
    return best


def main():
    threads, vocab, batch = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = Merge(vocab)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    g = torch.Generator().manual_seed(2)
    lengths = torch.randint(8, 21, (batch,), generator=g)
    t = int(lengths.max())
    mask = (torch.arange(t)[None, :] < lengths[:, None]).float()
    ids = (torch.randint(4, vocab, (batch, t), generator=g) * mask).long()
    targets = (torch.randint(4, vocab, (batch, t), generator=g) * mask).long()
    features = torch.rand(batch, 2048, generator=g)

    real = mask.bool()

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(features, ids, real), targets[real])  # the mean over the real positions
        loss.backward()
        opt.step()

    print("train_step_s", min_time(step), "tokens", int(mask.sum()), flush=True)

    model.eval()
    with torch.no_grad():
        def greedy():
            image = F.relu(model.image(features[:1]))
            h = c = torch.zeros(1, 1, 256)
            word = torch.tensor([[1]])
            for _ in range(20):
                out, (h, c) = model.lstm(model.embedding(word), (h, c))
                logits = model.out(F.relu(model.merge(out[:, 0] + image)))
                word = logits.argmax(dim=1, keepdim=True)

        print("greedy20_s", min_time(greedy), flush=True)


if __name__ == "__main__":
    main()
