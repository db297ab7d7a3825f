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

from fixture_io import writer

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
torch.manual_seed(1234)
torch.set_default_dtype(torch.float32)


write = writer(__file__, "torch " + torch.__version__, OUT)


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


# ---- convolution family (NHWC in the fixtures; torch computes in NCHW) ----

def nchw(x):
    return x.permute(0, 3, 1, 2)


def nhwc(x):
    return x.permute(0, 2, 3, 1)


def same_pads(size, k, s):
    """TensorFlow's 'same': out = ceil(size / s), the odd padding pixel after."""
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def tf_pad(x_nchw, kh, kw, sh, sw, padding, value=0.0):
    if padding == "valid":
        return x_nchw
    top, bottom = same_pads(x_nchw.shape[2], kh, sh)
    left, right = same_pads(x_nchw.shape[3], kw, sw)
    return torch.nn.functional.pad(x_nchw, (left, right, top, bottom), value=value)


def conv_case(name, n, h, w, c, oc, k, stride, padding, bias=True):
    x, weight = leaf(n, h, w, c), leaf(k, k, c, oc)  # NHWC and HWIO, as libnn and Keras store them
    b = leaf(oc) if bias else None
    y_nchw = torch.nn.functional.conv2d(tf_pad(nchw(x), k, k, stride, stride, padding),
                                        weight.permute(3, 2, 0, 1), b, stride=stride)
    y = nhwc(y_nchw)
    g = torch.rand(y.shape) * 2 - 1
    y.backward(g)
    tensors = {"x": x, "weight": weight, "y": y, "upstream": g, "grad_x": x.grad, "grad_weight": weight.grad}
    if bias:
        tensors.update({"bias": b, "grad_bias": b.grad})
    write(name, tensors)


def depthwise_case(name, n, h, w, c, k, stride, padding):
    x, weight, b = leaf(n, h, w, c), leaf(k, k, c, 1), leaf(c)
    y = nhwc(torch.nn.functional.conv2d(tf_pad(nchw(x), k, k, stride, stride, padding),
                                        weight.permute(2, 3, 0, 1), b, stride=stride, groups=c))
    g = torch.rand(y.shape) * 2 - 1
    y.backward(g)
    write(name, {"x": x, "weight": weight, "bias": b, "y": y, "upstream": g, "grad_x": x.grad,
                 "grad_weight": weight.grad, "grad_bias": b.grad})


def separable_case():
    n, h, w, c, oc = 2, 7, 6, 3, 4
    x, dw, pw, b = leaf(n, h, w, c), leaf(3, 3, c, 1), leaf(1, 1, c, oc), leaf(oc)
    mid = torch.nn.functional.conv2d(tf_pad(nchw(x), 3, 3, 1, 1, "same"), dw.permute(2, 3, 0, 1), groups=c)
    y = nhwc(torch.nn.functional.conv2d(mid, pw.permute(3, 2, 0, 1), b))
    g = torch.rand(y.shape) * 2 - 1
    y.backward(g)
    write("separable_conv2d.txt", {"x": x, "depthwise": dw, "pointwise": pw, "bias": b, "y": y, "upstream": g,
                                   "grad_x": x.grad, "grad_depthwise": dw.grad, "grad_pointwise": pw.grad,
                                   "grad_bias": b.grad})


def pool_case(name, kind, n, h, w, c, k, stride, padding):
    # A permutation of well-separated values, so that no window has a tie.
    x = (torch.randperm(n * h * w * c).float() / (n * h * w * c)).reshape(n, h, w, c).requires_grad_(True)
    if kind == "max":  # padding never wins: pad with −∞
        y = nhwc(torch.nn.functional.max_pool2d(tf_pad(nchw(x), k, k, stride, stride, padding, float("-inf")),
                                                k, stride))
    else:  # average over the real pixels only: sum-pool the values and the count of real pixels
        ones = torch.ones(n, c, h, w)
        total = torch.nn.functional.avg_pool2d(tf_pad(nchw(x), k, k, stride, stride, padding), k, stride)
        count = torch.nn.functional.avg_pool2d(tf_pad(ones, k, k, stride, stride, padding), k, stride)
        y = nhwc(total / count)
    g = torch.rand(y.shape) * 2 - 1
    y.backward(g)
    write(name, {"x": x, "y": y, "upstream": g, "grad_x": x.grad})


def batch_norm_case():
    n, h, w, c = 2, 3, 4, 5
    x, gamma, beta = leaf(n, h, w, c, low=-2, high=3), leaf(c, low=0.5, high=1.5), leaf(c)
    moving_mean, moving_var = torch.rand(c) * 0.2, torch.rand(c) + 0.5
    bn = torch.nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)  # torch's momentum = 1 − Keras's 0.99
    with torch.no_grad():
        bn.running_mean.copy_(moving_mean)
        bn.running_var.copy_(moving_var)
    bn.weight, bn.bias = torch.nn.Parameter(gamma.detach().clone()), torch.nn.Parameter(beta.detach().clone())
    y = nhwc(bn.train()(nchw(x)))
    g = torch.rand(y.shape) * 2 - 1
    y.backward(g)
    # Clones: the eval pass below reuses (and would accumulate into or overwrite) these very tensors.
    tensors = {"x": x, "gamma": gamma, "beta": beta, "moving_mean": moving_mean, "moving_variance": moving_var,
               "train_y": y, "upstream": g, "train_grad_x": x.grad.clone(),
               "train_grad_gamma": bn.weight.grad.clone(), "train_grad_beta": bn.bias.grad.clone(),
               "train_new_moving_mean": bn.running_mean.clone(), "train_new_moving_variance": bn.running_var.clone()}
    x.grad = None
    bn.weight.grad = None
    with torch.no_grad():
        bn.running_mean.copy_(moving_mean)
        bn.running_var.copy_(moving_var)
    y = nhwc(bn.eval()(nchw(x)))
    y.backward(g)
    tensors.update({"eval_y": y, "eval_grad_x": x.grad, "eval_grad_gamma": bn.weight.grad})
    write("batch_norm.txt", tensors)


def global_avg_pool_case():
    x = leaf(2, 3, 5, 4)
    y = torch.nn.functional.adaptive_avg_pool2d(nchw(x), 1).reshape(2, 4)
    g = torch.rand(2, 4) * 2 - 1
    y.backward(g)
    write("global_avg_pool.txt", {"x": x, "y": y, "upstream": g, "grad_x": x.grad})


def conv_family():
    conv_case("conv2d_3x3_s2_same_even.txt", 2, 8, 8, 3, 4, 3, 2, "same")  # pads 0 before, 1 after
    conv_case("conv2d_3x3_s1_valid.txt", 1, 7, 6, 3, 5, 3, 1, "valid")
    conv_case("conv2d_1x1_s2.txt", 2, 7, 8, 4, 3, 1, 2, "valid", bias=False)
    conv_case("conv2d_5x5_s1_same.txt", 1, 6, 5, 2, 3, 5, 1, "same")
    depthwise_case("depthwise_3x3_s1_same.txt", 2, 6, 5, 4, 3, 1, "same")
    depthwise_case("depthwise_3x3_s2_same_even.txt", 1, 8, 8, 3, 3, 2, "same")
    separable_case()
    pool_case("max_pool_3x3_s2_same_74.txt", "max", 1, 74, 74, 1, 3, 2, "same")  # 74 → 37, pads 0 and 1
    pool_case("max_pool_2x2_valid.txt", "max", 2, 5, 4, 3, 2, 2, "valid")
    pool_case("avg_pool_3x3_s2_same.txt", "avg", 2, 6, 7, 3, 3, 2, "same")
    batch_norm_case()
    global_avg_pool_case()


# ---- the everyday ops (nn/ops/math.cpp, compare.cpp, index.cpp, layout.cpp, activations.cpp, matmul.cpp) ----

def grads_of(fn, inputs, upstream):
    """fn(*inputs) and the gradient of each input under `upstream` (fresh leaves, so cases do not accumulate)."""
    leaves = [x.detach().clone().requires_grad_(True) for x in inputs]
    y = fn(*leaves)
    y.backward(upstream)
    return y, [x.grad for x in leaves]


def pointwise_case(record, name, fn, x):
    g = torch.rand(x.shape) * 2 - 1
    y, (gx,) = grads_of(fn, [x], g)
    record.update({name + "_x": x, name + "_y": y, name + "_upstream": g, name + "_grad_x": gx})


def math_family():
    record = {}
    pointwise_case(record, "exp", torch.exp, leaf(3, 4, low=-2, high=2))
    pointwise_case(record, "log", torch.log, leaf(3, 4, low=0.1, high=3))
    pointwise_case(record, "sqrt", torch.sqrt, leaf(3, 4, low=0.1, high=3))
    pointwise_case(record, "rsqrt", torch.rsqrt, leaf(3, 4, low=0.1, high=3))
    pointwise_case(record, "abs", torch.abs, leaf(3, 4))
    pointwise_case(record, "pow_scalar", lambda x: x ** 2.5, leaf(3, 4, low=0.1, high=2))
    pointwise_case(record, "clamp", lambda x: torch.clamp(x, -0.5, 0.25), leaf(3, 4))
    pointwise_case(record, "rsub", lambda x: 1.0 - x, leaf(3, 4))
    pointwise_case(record, "rdiv", lambda x: 2.0 / x, leaf(3, 4, low=0.5, high=2))
    base, exponent = leaf(2, 3, 4, low=0.2, high=2), leaf(3, 1, low=-2, high=2)
    g = torch.rand(2, 3, 4) * 2 - 1
    y, (gb, ge) = grads_of(torch.pow, [base, exponent], g)
    record.update({"pow_base": base, "pow_exponent": exponent, "pow_y": y, "pow_upstream": g, "pow_grad_base": gb,
                   "pow_grad_exponent": ge})
    write("math.txt", record)


def activation_family():
    record = {}
    f = torch.nn.functional
    pointwise_case(record, "leaky_relu", lambda x: f.leaky_relu(x, 0.2), leaf(3, 5, low=-2, high=2))
    pointwise_case(record, "elu", lambda x: f.elu(x, 0.7), leaf(3, 5, low=-2, high=2))
    pointwise_case(record, "gelu", f.gelu, leaf(3, 5, low=-3, high=3))
    pointwise_case(record, "silu", f.silu, leaf(3, 5, low=-3, high=3))
    pointwise_case(record, "log_softmax_axis1", lambda x: torch.log_softmax(x, 1), leaf(2, 4, 3, low=-3, high=3))
    pointwise_case(record, "softmax_axis0", lambda x: torch.softmax(x, 0), leaf(4, 3, low=-3, high=3))
    write("activations.txt", record)


def compare_family():
    """Values drawn from a few multiples of 0.25 so that ties occur (the tie rules are part of the contract)."""
    a = (torch.randint(-3, 4, (2, 3, 4)).float() * 0.25)
    b = (torch.randint(-3, 4, (3, 1)).float() * 0.25)
    record = {"a": a, "b": b}
    for name in ["eq", "ne", "lt", "le", "gt", "ge"]:
        record[name] = getattr(torch, name)(a, b).float()
    g = torch.rand(2, 3, 4) * 2 - 1
    record["upstream"] = g
    for name in ["minimum", "maximum"]:
        y, (ga, gb) = grads_of(getattr(torch, name), [a, b], g)
        record.update({name: y, "grad_a_" + name: ga, "grad_b_" + name: gb})
    mask = (torch.rand(2, 1, 4) > 0.5).float()
    c = leaf(4)
    y, (ga, gc) = grads_of(lambda x, z: torch.where(mask > 0, x, z), [a, c], g)
    record.update({"mask": mask, "c": c, "where": y, "grad_a_where": ga, "grad_c_where": gc})
    write("compare.txt", record)


def index_family():
    x = torch.randperm(60).float().reshape(3, 4, 5) / 10  # distinct values: no ties
    g1, g0 = torch.rand(3, 1, 5) * 2 - 1, torch.rand(4, 5) * 2 - 1
    mx, (gmx,) = grads_of(lambda t: t.max(1, keepdim=True).values, [x], g1)
    mn, (gmn,) = grads_of(lambda t: t.min(0).values, [x], g0)
    write("index.txt", {"x": x, "upstream_max": g1, "max_axis1_keepdim": mx, "grad_max": gmx,
                        "upstream_min": g0, "min_axis0": mn, "grad_min": gmn,
                        "argmax_axis2": x.argmax(2).float(), "argmin_axis1_keepdim": x.argmin(1, keepdim=True).float()})


def layout_family():
    x = leaf(2, 3, 4)
    record = {"x": x}
    cases = {"permute": (lambda t: t.permute(2, 0, 1), (4, 2, 3)),
             "transpose": (lambda t: t.transpose(0, 2), (4, 3, 2)),
             "squeeze_unsqueeze": (lambda t: t.unsqueeze(1).unsqueeze(-1).squeeze(1), (2, 3, 4, 1)),
             "split1": (lambda t: torch.split(t, [1, 3], 2)[1], (2, 3, 3))}
    for name, (fn, shape) in cases.items():
        g = torch.rand(shape) * 2 - 1
        y, (gx,) = grads_of(fn, [x], g)
        record.update({name: y, name + "_upstream": g, name + "_grad_x": gx})
    z = leaf(2, 3, 4)
    g = torch.rand(2, 3, 2, 4) * 2 - 1
    y, (gx, gz) = grads_of(lambda p, q: torch.stack([p, q], 2), [x, z], g)
    record.update({"z": z, "stack": y, "stack_upstream": g, "stack_grad_x": gx, "stack_grad_z": gz})
    write("layout.txt", record)


def batched_matmul():
    record = {}
    cases = {"bmm": ((3, 2, 4), (3, 4, 5)), "shared_b": ((3, 2, 4), (4, 5)), "4d": ((2, 1, 3, 4), (3, 4, 2)),
             "shared_a": ((2, 4), (2, 3, 4, 5))}
    for name, (sa, sb) in cases.items():
        a, b = leaf(*sa), leaf(*sb)
        c = a @ b
        g = torch.rand(c.shape) * 2 - 1
        c, (ga, gb) = grads_of(torch.matmul, [a, b], g)
        record.update({name + "_a": a, name + "_b": b, name + "_c": c, name + "_upstream": g, name + "_grad_a": ga,
                       name + "_grad_b": gb})
    write("batched_matmul.txt", record)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    matmul()
    softmax()
    cross_entropy()
    embedding()
    lstm_packed()
    lstm_masked_loop()
    adam_keras()
    conv_family()
    math_family()
    activation_family()
    compare_family()
    index_family()
    layout_family()
    batched_matmul()
