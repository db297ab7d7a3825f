#!/usr/bin/python3
"""Writes tests/reference/fixtures/caption_adam.txt: the merge caption model in PyTorch — Dense(F→U, relu) on the
image, Embedding → LSTM (Keras's masked LSTM written as a loop) on the words, add, Dense(U→U,
relu), Dense(U→V) — with dropout off, trained by Keras's Adam (ε = 1e-7 on the uncorrected sqrt(v)) with masked
cross-entropy on fixed batches. Written: the initial weights in libnn's layout (kernels (in, out), LSTM gates i f c
o = torch's i f g o, transposed), the batches, and the loss of each of the first 20 steps.

Run with Debian's python3-torch:  /usr/bin/python3 tests/reference/make_caption_fixtures.py
"""
import os

import torch
import torch.nn.functional as F

from fixture_io import write_fixture

HERE = os.path.dirname(os.path.abspath(__file__))
V, FEAT, U, N, T, STEPS = 30, 16, 8, 4, 6, 20
torch.manual_seed(77)


def main():
    p = {  # libnn's parameter names and layouts
        "image_dense.kernel": torch.rand(FEAT, U) * 0.6 - 0.3, "image_dense.bias": torch.rand(U) * 0.2 - 0.1,
        "embedding.embeddings": torch.rand(V, U) * 0.1 - 0.05,
        "lstm.kernel": torch.rand(U, 4 * U) * 0.6 - 0.3, "lstm.recurrent_kernel": torch.rand(U, 4 * U) * 0.6 - 0.3,
        "lstm.bias": torch.rand(4 * U) * 0.2 - 0.1,
        "merge_dense.kernel": torch.rand(U, U) * 0.6 - 0.3, "merge_dense.bias": torch.rand(U) * 0.2 - 0.1,
        "output.kernel": torch.rand(U, V) * 0.6 - 0.3, "output.bias": torch.rand(V) * 0.2 - 0.1,
    }
    initial = {k: v.clone() for k, v in p.items()}
    for v in p.values():
        v.requires_grad_(True)

    features = torch.rand(N, FEAT)
    lengths = torch.tensor([6, 4, 5, 2])
    inputs = torch.randint(4, V, (N, T))
    targets = torch.randint(2, V, (N, T))
    mask = (torch.arange(T)[None, :] < lengths[:, None]).float()
    inputs = inputs * mask.long()  # padding id 0 after each caption
    targets = targets * mask.long()

    def loss_fn():
        image = F.relu(features @ p["image_dense.kernel"] + p["image_dense.bias"])
        words = F.embedding(inputs, p["embedding.embeddings"])
        # Keras's masked LSTM as a loop: gates i, f, c, o; padded steps keep (h, c).
        h, c, outs = torch.zeros(N, U), torch.zeros(N, U), []
        for t in range(T):
            z = words[:, t] @ p["lstm.kernel"] + h @ p["lstm.recurrent_kernel"] + p["lstm.bias"]
            i, f, g, o = torch.sigmoid(z[:, :U]), torch.sigmoid(z[:, U:2 * U]), torch.tanh(z[:, 2 * U:3 * U]), \
                torch.sigmoid(z[:, 3 * U:])
            c_new = f * c + i * g
            h_new = o * torch.tanh(c_new)
            keep = mask[:, t:t + 1] > 0
            h, c = torch.where(keep, h_new, h), torch.where(keep, c_new, c)
            outs.append(h)
        out = torch.stack(outs, 1)
        merged = F.relu((out + image[:, None, :]) @ p["merge_dense.kernel"] + p["merge_dense.bias"])
        logits = merged @ p["output.kernel"] + p["output.bias"]
        per = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), reduction="none")
        return (per * mask.reshape(-1)).sum() / mask.sum()

    lr, b1, b2, eps = 1e-2, 0.9, 0.999, 1e-7
    m = {k: torch.zeros_like(v) for k, v in p.items()}
    s = {k: torch.zeros_like(v) for k, v in p.items()}
    losses = []
    for step in range(1, STEPS + 1):
        for v in p.values():
            v.grad = None
        loss = loss_fn()
        loss.backward()
        losses.append(loss.item())
        with torch.no_grad():
            lr_t = lr * (1 - b2 ** step) ** 0.5 / (1 - b1 ** step)
            for k, v in p.items():
                m[k] = b1 * m[k] + (1 - b1) * v.grad
                s[k] = b2 * s[k] + (1 - b2) * v.grad * v.grad
                v -= lr_t * m[k] / (s[k].sqrt() + eps)
    tensors = {k: v for k, v in initial.items()}
    tensors.update({"features": features, "inputs": inputs.float(), "targets": targets.float(), "mask": mask,
                    "losses": torch.tensor(losses)})
    out = os.path.join(HERE, "fixtures", "caption_adam.txt")
    write_fixture(out, tensors, __file__, "torch " + torch.__version__)
    print("losses", losses[0], "->", losses[-1])


if __name__ == "__main__":
    main()
