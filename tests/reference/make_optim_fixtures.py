#!/usr/bin/python3
"""Writes the PyTorch reference fixtures of the optimisers and schedules (tests/test_optim.cpp) into
tests/reference/fixtures/optim_*.txt.

Run with Debian's python3-torch (1.13, CPU):  /usr/bin/python3 tests/reference/make_optim_fixtures.py
The fixtures are committed; CI never needs torch. File format as tests/reference/make_fixtures.py.

Trajectories: two parameters, w [2,3] and b [4], start at "init.w"/"init.b"; step k (1…STEPS) sets their gradients
to "grad.w.k"/"grad.b.k" and calls optimizer.step(); "<case>.w.k"/"<case>.b.k" are the parameters after it.
"skip_b" cases give b no gradient on steps B_SKIPS: torch counts steps per parameter, so b's bias correction
starts at its first gradient (step 3).
Schedules: "<case>.lrs" is [count, groups]: row 0 the rates once the schedule is made, row k after k scheduler steps.
"""
import math
import os

import torch

from fixture_io import writer

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
STEPS = 6
B_SKIPS = (1, 2, 4)
torch.manual_seed(2024)
torch.set_default_dtype(torch.float32)


write = writer(__file__, "torch " + torch.__version__, OUT)


INIT = {"w": torch.rand(2, 3) * 2 - 1, "b": torch.rand(4) * 2 - 1}
GRADS = [{"w": torch.rand(2, 3) * 2 - 1, "b": torch.rand(4) * 2 - 1} for _ in range(STEPS)]


def common():
    out = {"init.w": INIT["w"], "init.b": INIT["b"]}
    for k, g in enumerate(GRADS, 1):
        out["grad.w.%d" % k] = g["w"]
        out["grad.b.%d" % k] = g["b"]
    return out


def trajectory(out, case, make, scheduler=None, b_skips=()):
    """Runs STEPS steps of the optimiser make(w, b) on the fixed gradients; records the parameters after each. On
    the steps in b_skips b has no gradient (grad None: torch skips it, and its own step count stays)."""
    w = INIT["w"].clone().requires_grad_(True)
    b = INIT["b"].clone().requires_grad_(True)
    opt = make(w, b)
    sched = scheduler(opt) if scheduler else None
    for k, g in enumerate(GRADS, 1):
        w.grad, b.grad = g["w"].clone(), None if k in b_skips else g["b"].clone()
        opt.step()
        if sched:
            sched.step()
        out["%s.w.%d" % (case, k)] = w.detach().clone()
        out["%s.b.%d" % (case, k)] = b.detach().clone()


def sgd():
    out = common()
    S = torch.optim.SGD
    trajectory(out, "plain", lambda w, b: S([w, b], lr=0.1))
    trajectory(out, "momentum", lambda w, b: S([w, b], lr=0.1, momentum=0.9))
    trajectory(out, "nesterov", lambda w, b: S([w, b], lr=0.1, momentum=0.9, nesterov=True))
    trajectory(out, "weight_decay", lambda w, b: S([w, b], lr=0.1, momentum=0.9, weight_decay=0.05))
    trajectory(out, "nesterov_weight_decay", lambda w, b: S([w, b], lr=0.1, momentum=0.8, nesterov=True,
                                                             weight_decay=0.05))
    # The rate changes every step: PyTorch's momentum form applies the new rate to the whole buffer.
    trajectory(out, "momentum_exponential", lambda w, b: S([w, b], lr=0.1, momentum=0.9),
               lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.7))
    write("optim_sgd.txt", out)


def keras_adam_weight_decay(lr, b1, b2, eps, wd):
    """Keras's Adam (ε added to the uncorrected sqrt(v)) with coupled L2, written out in float64 from its formula:
    no library implements this pairing, so the reference is the formula itself."""
    out = {}
    p = {n: INIT[n].double().clone() for n in ("w", "b")}
    m = {n: torch.zeros_like(p[n]) for n in p}
    v = {n: torch.zeros_like(p[n]) for n in p}
    for t, g in enumerate(GRADS, 1):
        lr_t = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        for n in p:
            gi = g[n].double() + wd * p[n]
            m[n] = b1 * m[n] + (1 - b1) * gi
            v[n] = b2 * v[n] + (1 - b2) * gi * gi
            p[n] = p[n] - lr_t * m[n] / (v[n].sqrt() + eps)
            out["keras_weight_decay.%s.%d" % (n, t)] = p[n]
    return out


def adam():
    out = common()
    trajectory(out, "weight_decay", lambda w, b: torch.optim.Adam([w, b], lr=0.05, weight_decay=0.1))
    trajectory(out, "adamw", lambda w, b: torch.optim.AdamW([w, b], lr=0.05, weight_decay=0.1))
    trajectory(out, "adamw_betas", lambda w, b: torch.optim.AdamW([w, b], lr=0.02, betas=(0.8, 0.99), eps=1e-3,
                                                                  weight_decay=0.5))
    out.update(keras_adam_weight_decay(0.05, 0.9, 0.999, 1e-7, 0.1))
    trajectory(out, "skip_b_adam", lambda w, b: torch.optim.Adam([w, b], lr=0.05), b_skips=B_SKIPS)
    trajectory(out, "skip_b_adamw", lambda w, b: torch.optim.AdamW([w, b], lr=0.05, weight_decay=0.1),
               b_skips=B_SKIPS)
    write("optim_adam.txt", out)


def rmsprop():
    out = common()
    R = torch.optim.RMSprop
    trajectory(out, "plain", lambda w, b: R([w, b], lr=0.01))
    trajectory(out, "centered", lambda w, b: R([w, b], lr=0.01, alpha=0.9, centered=True))
    trajectory(out, "momentum", lambda w, b: R([w, b], lr=0.01, momentum=0.9))
    trajectory(out, "all", lambda w, b: R([w, b], lr=0.02, alpha=0.95, eps=1e-4, momentum=0.5, centered=True,
                                          weight_decay=0.1))
    write("optim_rmsprop.txt", out)


def adagrad():
    out = common()
    A = torch.optim.Adagrad
    trajectory(out, "plain", lambda w, b: A([w, b], lr=0.1))
    trajectory(out, "all", lambda w, b: A([w, b], lr=0.1, lr_decay=0.2, weight_decay=0.05,
                                          initial_accumulator_value=0.3, eps=1e-6))
    trajectory(out, "skip_b", lambda w, b: A([w, b], lr=0.1, lr_decay=0.2), b_skips=B_SKIPS)
    write("optim_adagrad.txt", out)


def groups():
    out = common()
    trajectory(out, "adamw", lambda w, b: torch.optim.AdamW(
        [{"params": [w], "lr": 0.05}, {"params": [b], "weight_decay": 0.5}], lr=0.01, weight_decay=0.1))
    trajectory(out, "sgd", lambda w, b: torch.optim.SGD(
        [{"params": [w]}, {"params": [b], "lr": 0.3, "weight_decay": 0.2}], lr=0.05, momentum=0.9))
    write("optim_groups.txt", out)


def rates(make_scheduler, steps, losses=None):
    """The rates of a two-group SGD (base rates 0.1 and 0.02) after 0…steps scheduler steps."""
    p, q = torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([{"params": [p], "lr": 0.1}, {"params": [q], "lr": 0.02}], lr=1.0)
    sched = make_scheduler(opt)
    rows = [[g["lr"] for g in opt.param_groups]]
    for k in range(steps):
        opt.step()
        sched.step(losses[k]) if losses is not None else sched.step()
        rows.append([g["lr"] for g in opt.param_groups])
    return torch.tensor(rows, dtype=torch.float64)


def cosine_with_warmup(warmup, total, min_lr, base):
    """libnn's CosineWithWarmup as a LambdaLR factor of `base` (the formula in nn/optim/scheduler.h)."""
    def factor(c):
        if c < warmup:
            return (c + 1) / warmup
        progress = 1.0 if c >= total else (c - warmup) / (total - warmup)
        return (min_lr + (base - min_lr) * 0.5 * (1 + math.cos(math.pi * progress))) / base
    return factor


def schedules():
    L = torch.optim.lr_scheduler
    losses = [1.0, 0.9, 0.95, 0.899, 0.91, 0.92, 0.93, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6]
    out = {
        "steplr.lrs": rates(lambda o: L.StepLR(o, step_size=3, gamma=0.5), 10),
        "exponential.lrs": rates(lambda o: L.ExponentialLR(o, gamma=0.8), 10),
        "cosine.lrs": rates(lambda o: L.LambdaLR(o, [cosine_with_warmup(3, 10, 0.001, 0.1),
                                                     cosine_with_warmup(3, 10, 0.001, 0.02)]), 13),
        "plateau.losses": torch.tensor(losses),
        "plateau.lrs": rates(lambda o: L.ReduceLROnPlateau(o, factor=0.5, patience=2, threshold=0.01, cooldown=1,
                                                            min_lr=0.004), len(losses), losses),
        "plateau_abs.lrs": rates(lambda o: L.ReduceLROnPlateau(o, factor=0.3, patience=1, threshold=0.05,
                                                                threshold_mode="abs"), len(losses), losses),
    }
    write("optim_schedules.txt", out)


if __name__ == "__main__":
    sgd()
    adam()
    rmsprop()
    adagrad()
    groups()
    schedules()
