#!/usr/bin/python3
"""Writes the PyTorch reference fixtures of tests/test_losses.cpp (loss_*.txt) into tests/reference/fixtures/.

Run with Debian's python3-torch (1.13, CPU):  /usr/bin/python3 tests/reference/make_loss_fixtures.py
File format as tests/reference/make_fixtures.py. Every loss is evaluated with each reduction: for a case PREFIX,
  PREFIX_REDUCTION           the loss (reduction none, mean or sum)
  PREFIX_none_upstream       the random upstream gradient given to the unreduced loss (mean and sum seed with 1)
  PREFIX_REDUCTION_grad_NAME the gradient of every input NAME that requires grad
libnn is channels-last: the classification inputs here are (N, T, C), given to torch as (N, C, T).
"""
import os

import torch
import torch.nn.functional as F

from fixture_io import writer

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
torch.manual_seed(2015)
torch.set_default_dtype(torch.float32)


write = writer(__file__, "torch " + torch.__version__, OUT)


def uniform(*shape, low=-1.0, high=1.0):
    return torch.rand(*shape) * (high - low) + low


def evaluate(out, prefix, fn, inputs):
    """fn(reduction) → loss; inputs: name → leaf tensor (those requiring grad get their gradients written)."""
    for name, t in inputs.items():
        out["%s_%s" % (prefix, name)] = t.detach().clone()
    for reduction in ("none", "mean", "sum"):
        for t in inputs.values():
            t.grad = None
        loss = fn(reduction)
        if reduction == "none":
            upstream = uniform(*loss.shape)
            out["%s_none_upstream" % prefix] = upstream
            loss.backward(upstream)
        else:
            loss.backward()
        out["%s_%s" % (prefix, reduction)] = loss
        for name, t in inputs.items():
            if t.requires_grad:
                out["%s_%s_grad_%s" % (prefix, reduction, name)] = t.grad


def regression():
    out = {}
    x = uniform(3, 4, low=-2, high=2)
    y = uniform(3, 4, low=-2, high=2)
    y[0, 1] = x[0, 1]  # a zero difference: l1's gradient there is sign(0) = 0
    x.requires_grad_(True)
    y.requires_grad_(True)
    inputs = {"input": x, "target": y}
    evaluate(out, "mse", lambda r: F.mse_loss(x, y, reduction=r), inputs)
    evaluate(out, "l1", lambda r: F.l1_loss(x, y, reduction=r), inputs)
    evaluate(out, "huber", lambda r: F.huber_loss(x, y, reduction=r, delta=0.7), inputs)
    evaluate(out, "smooth_l1", lambda r: F.smooth_l1_loss(x, y, reduction=r, beta=1.3), inputs)
    # beta = 0 is l1_loss; at a zero difference torch's smooth_l1 kernel gives −1 (its x ≤ −beta branch) where
    # l1_loss and libnn give 0, so this case has no tie.
    x2 = uniform(3, 4, low=-2, high=2).requires_grad_(True)
    y2 = uniform(3, 4, low=-2, high=2).requires_grad_(True)
    evaluate(out, "smooth_l1_beta0", lambda r: F.smooth_l1_loss(x2, y2, reduction=r, beta=0.0),
             {"input": x2, "target": y2})
    write("loss_regression.txt", out)


def binary():
    out = {}
    # Logits with large magnitudes too (±30, ±90), where a naive log(sigmoid(x)) overflows or loses everything.
    x = uniform(3, 4, low=-5, high=5)
    x[0, 0], x[1, 1], x[2, 2], x[2, 3] = 30.0, -30.0, 90.0, -90.0
    y = torch.rand(3, 4)
    y[0, 1], y[1, 2] = 0.0, 1.0
    weight = uniform(3, 1, low=0.2, high=2.0)
    pos_weight = uniform(4, low=0.5, high=3.0)
    x.requires_grad_(True)
    y.requires_grad_(True)
    evaluate(out, "bce_logits", lambda r: F.binary_cross_entropy_with_logits(x, y, reduction=r),
             {"logits": x, "target": y})
    evaluate(out, "bce_logits_weighted",
             lambda r: F.binary_cross_entropy_with_logits(x, y, weight=weight, pos_weight=pos_weight, reduction=r),
             {"logits": x, "target": y, "weight": weight, "pos_weight": pos_weight})
    # Probabilities with 0 and 1 exactly, where the logs are clamped at −100.
    p = torch.rand(3, 4) * 0.98 + 0.01
    p[0, 0], p[1, 1], p[2, 2] = 0.0, 1.0, 0.0
    q = torch.rand(3, 4)
    q[0, 0], q[1, 1], q[2, 2] = 0.0, 1.0, 0.25
    p.requires_grad_(True)
    q.requires_grad_(True)
    evaluate(out, "bce", lambda r: F.binary_cross_entropy(p, q, reduction=r), {"probabilities": p, "target": q})
    evaluate(out, "bce_weighted", lambda r: F.binary_cross_entropy(p, q, weight=weight, reduction=r),
             {"probabilities": p, "target": q, "weight": weight})
    # torch's target gradient is log(1 − p) − log(p) unclamped: ±inf where p is 0 or 1, although its loss clamps
    # both logs at −100. libnn's is the derivative of the clamped loss it computes (finite, ±100 there): written
    # here from that explicit formula, which agrees with torch's gradient wherever torch's is finite.
    for prefix, w in (("bce", None), ("bce_weighted", weight)):
        for reduction in ("none", "mean", "sum"):
            key = "%s_%s_grad_target" % (prefix, reduction)
            q.grad = None
            clamped = -(q * torch.clamp(torch.log(p.detach()), min=-100)
                        + (1 - q) * torch.clamp(torch.log(1 - p.detach()), min=-100))
            if w is not None:
                clamped = clamped * w
            if reduction == "none":
                clamped.backward(out["%s_none_upstream" % prefix])
            else:
                (clamped.mean() if reduction == "mean" else clamped.sum()).backward()
            finite = torch.isfinite(out[key])
            assert torch.allclose(q.grad[finite], out[key][finite], rtol=1e-6, atol=1e-6), key
            out[key] = q.grad.clone()
    write("loss_binary.txt", out)


def classification():
    out = {}
    n, t, c = 2, 3, 5
    x = uniform(n, t, c, low=-3, high=3).requires_grad_(True)
    log_probs = torch.log_softmax(uniform(n, t, c, low=-3, high=3), -1).requires_grad_(True)
    targets = torch.tensor([[4, 0, 2], [1, -100, 2]])
    targets_2 = torch.tensor([[4, 2, 2], [1, 3, 0]])  # with ignore_index = 2
    weight = torch.tensor([0.5, 2.0, 1.0, 0.25, 1.5])
    out["targets"], out["targets_2"], out["weight"] = targets.float(), targets_2.float(), weight

    def nll(r, w=None, target=targets, ignore=-100):
        return F.nll_loss(log_probs.permute(0, 2, 1), target, weight=w, ignore_index=ignore, reduction=r)

    evaluate(out, "nll", lambda r: nll(r), {"log_probs": log_probs})
    evaluate(out, "nll_weighted", lambda r: nll(r, weight), {"log_probs": log_probs})
    evaluate(out, "nll_ignore_2", lambda r: nll(r, weight, targets_2, 2), {"log_probs": log_probs})

    def ce(r, w=None, eps=0.0, target=targets, ignore=-100):
        return F.cross_entropy(x.permute(0, 2, 1), target, weight=w, ignore_index=ignore, reduction=r,
                               label_smoothing=eps)

    evaluate(out, "ce", lambda r: ce(r), {"logits": x})
    evaluate(out, "ce_weighted", lambda r: ce(r, weight), {"logits": x})
    evaluate(out, "ce_smooth", lambda r: ce(r, None, 0.1), {"logits": x})
    evaluate(out, "ce_smooth_weighted", lambda r: ce(r, weight, 0.2), {"logits": x})
    evaluate(out, "ce_smooth_weighted_ignore_2", lambda r: ce(r, weight, 0.3, targets_2, 2), {"logits": x})
    evaluate(out, "ce_smooth_ignore_2", lambda r: ce(r, None, 0.3, targets_2, 2), {"logits": x})
    write("loss_classification.txt", out)


if __name__ == "__main__":
    regression()
    binary()
    classification()
