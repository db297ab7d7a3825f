#!/usr/bin/python3
"""Writes the PyTorch reference fixtures of tests/test_reference.cpp into tests/reference/fixtures/.

Run with Debian's python3-torch (1.13, CPU):  /usr/bin/python3 tests/reference/make_fixtures.py
The fixtures are committed; CI never needs torch. Layouts follow libnn's conventions (Keras's): a Dense or LSTM
kernel is (in, out), the LSTM's gate blocks are ordered i, f, c, o — which is torch's i, f, g, o — and torch's
(out, in) weights are the transposes.

File format (text, one tensor per two lines):
    tensor NAME RANK D0 D1 ...
    v0 v1 v2 ...            (row-major, printed with 9 significant digits: float32 round-trips exactly)
"""
import os

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
torch.manual_seed(1234)
torch.set_default_dtype(torch.float32)


def write(name, tensors):
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        f.write("# written by tests/reference/make_fixtures.py with torch %s\n" % torch.__version__)
        for key, value in tensors.items():
            t = value.detach().to(torch.float32).contiguous()
            f.write("tensor %s %d %s\n" % (key, t.dim(), " ".join(str(d) for d in t.shape)))
            f.write(" ".join("%.9g" % v for v in t.reshape(-1).tolist()) + "\n")
    print("wrote", path)


def leaf(*shape, low=-1.0, high=1.0):
    return (torch.rand(*shape) * (high - low) + low).requires_grad_(True)


def matmul():
    a, b = leaf(3, 5), leaf(5, 4)
    c = a @ b
    g = torch.rand(3, 4) * 2 - 1
    c.backward(g)
    write("matmul.txt", {"a": a, "b": b, "c": c, "upstream": g, "grad_a": a.grad, "grad_b": b.grad})


def softmax():
    x = leaf(3, 7, low=-3, high=3)
    g = torch.rand(3, 7) * 2 - 1
    s = torch.softmax(x, -1)
    s.backward(g)
    grad_softmax = x.grad.clone()
    x.grad = None
    ls = torch.log_softmax(x, -1)
    ls.backward(g)
    write("softmax.txt", {"x": x, "upstream": g, "softmax": s, "grad_softmax": grad_softmax, "log_softmax": ls,
                          "grad_log_softmax": x.grad})


def cross_entropy():
    logits = leaf(2, 4, 7, low=-3, high=3)
    targets = torch.randint(0, 7, (2, 4))
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]], dtype=torch.float32)
    per_position = torch.nn.functional.cross_entropy(logits.reshape(-1, 7), targets.reshape(-1), reduction="none")
    loss = (per_position * mask.reshape(-1)).sum() / mask.sum()
    loss.backward()
    write("cross_entropy.txt", {"logits": logits, "targets": targets.float(), "mask": mask, "loss": loss,
                                "grad_logits": logits.grad})


def embedding():
    weight = leaf(6, 3)
    ids = torch.tensor([[1, 0, 5, 1], [3, 3, 2, 0]])
    out = torch.nn.functional.embedding(ids, weight)
    g = torch.rand(2, 4, 3) * 2 - 1
    out.backward(g)
    write("embedding.txt", {"weight": weight, "ids": ids.float(), "out": out, "upstream": g, "grad_weight": weight.grad})


def lstm_packed():
    """torch.nn.LSTM over padded sequences (pack_padded_sequence): the reference for Keras's trailing mask."""
    n, t, e, u = 3, 5, 4, 3
    lengths = torch.tensor([5, 3, 1])
    mask = (torch.arange(t)[None, :] < lengths[:, None]).float()
    x = leaf(n, t, e)
    cell = torch.nn.LSTM(e, u, batch_first=True)
    with torch.no_grad():  # one bias in Keras: torch's two are summed, so keep bias_hh at zero
        cell.bias_hh_l0.zero_()
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out_packed, (h, c) = cell(packed)
    outputs, _ = torch.nn.utils.rnn.pad_packed_sequence(out_packed, batch_first=True, total_length=t)
    g_out = (torch.rand(n, t, u) * 2 - 1) * mask[:, :, None]  # padded positions get no gradient
    g_h, g_c = torch.rand(n, u) * 2 - 1, torch.rand(n, u) * 2 - 1
    (outputs * g_out).sum().add_((h[0] * g_h).sum()).add_((c[0] * g_c).sum()).backward()
    # torch's weights are the transposes of Keras's kernels; its gate order i, f, g, o is Keras's i, f, c, o.
    write("lstm_packed.txt", {"x": x, "kernel": cell.weight_ih_l0.t(), "recurrent_kernel": cell.weight_hh_l0.t(),
                              "bias": cell.bias_ih_l0, "mask": mask, "outputs": outputs, "h": h[0], "c": c[0],
                              "grad_outputs": g_out, "grad_h": g_h, "grad_c": g_c, "grad_x": x.grad,
                              "grad_kernel": cell.weight_ih_l0.grad.t(),
                              "grad_recurrent_kernel": cell.weight_hh_l0.grad.t(), "grad_bias": cell.bias_ih_l0.grad})


def lstm_masked_loop():
    """Keras's masked LSTM written as a plain loop (masks anywhere, initial state, hard_sigmoid): torch's autograd
    gives the gradients."""
    n, t, e, u = 2, 4, 3, 2
    mask = torch.tensor([[1, 0, 1, 1], [0, 1, 1, 0]], dtype=torch.float32)
    x, kernel, recurrent, bias = leaf(n, t, e), leaf(e, 4 * u), leaf(u, 4 * u), leaf(4 * u)
    h0, c0 = leaf(n, u), leaf(n, u)
    hard_sigmoid = lambda z: torch.clamp(0.2 * z + 0.5, 0.0, 1.0)
    h, c, outs = h0, c0, []
    for s in range(t):
        z = x[:, s] @ kernel + h @ recurrent + bias
        i, f, g, o = hard_sigmoid(z[:, :u]), hard_sigmoid(z[:, u:2 * u]), torch.tanh(z[:, 2 * u:3 * u]), \
            hard_sigmoid(z[:, 3 * u:])
        c_new = f * c + i * g
        h_new = o * torch.tanh(c_new)
        keep = mask[:, s:s + 1] > 0
        h, c = torch.where(keep, h_new, h), torch.where(keep, c_new, c)
        outs.append(h)
    outputs = torch.stack(outs, 1)
    g_out, g_h, g_c = torch.rand(n, t, u) * 2 - 1, torch.rand(n, u) * 2 - 1, torch.rand(n, u) * 2 - 1
    ((outputs * g_out).sum() + (h * g_h).sum() + (c * g_c).sum()).backward()
    write("lstm_masked_loop.txt", {"x": x, "kernel": kernel, "recurrent_kernel": recurrent, "bias": bias,
                                   "mask": mask, "h0": h0, "c0": c0, "outputs": outputs, "h": h, "c": c,
                                   "grad_outputs": g_out, "grad_h": g_h, "grad_c": g_c, "grad_x": x.grad,
                                   "grad_kernel": kernel.grad, "grad_recurrent_kernel": recurrent.grad,
                                   "grad_bias": bias.grad, "grad_h0": h0.grad, "grad_c0": c0.grad})


def adam_keras():
    """Five Adam steps with Keras's update (ε added to the uncorrected sqrt(v)) on a least-squares problem."""
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-7
    w = leaf(3, 2)
    w0 = w.detach().clone()
    x, y = torch.rand(5, 3) * 2 - 1, torch.rand(5, 2) * 2 - 1
    m, v = torch.zeros_like(w), torch.zeros_like(w)
    record = {"w0": w0, "x": x, "y": y}
    for step in range(1, 6):
        w.grad = None
        loss = ((x @ w - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            g = w.grad
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            lr_t = lr * (1 - b2 ** step) ** 0.5 / (1 - b1 ** step)
            w -= lr_t * m / (v.sqrt() + eps)
        record["loss%d" % step] = loss
        record["w%d" % step] = w.detach().clone()
    write("adam_keras.txt", record)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    matmul()
    softmax()
    cross_entropy()
    embedding()
    lstm_packed()
    lstm_masked_loop()
    adam_keras()
