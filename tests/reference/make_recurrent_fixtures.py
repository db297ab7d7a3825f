#!/usr/bin/python3
"""Writes the PyTorch reference fixtures of tests/test_recurrent.cpp (recurrent_*.txt) into tests/reference/fixtures/.

Run with Debian's python3-torch (1.13, CPU):  /usr/bin/python3 tests/reference/make_recurrent_fixtures.py
File format as tests/reference/make_fixtures.py. Weights are written in libnn's (Keras's) layouts, converted here:
  - a kernel is (in, out): torch's (out, in) weights transposed;
  - a GRU's gate blocks: torch's r, z, n; Keras's z, r, h (keras_blocks below swaps the first two); its bias is
    (2, 3U), rows b_ih and b_hh;
  - an LSTM's single bias is torch's b_ih + b_hh (its gate order i, f, g, o is Keras's i, f, c, o);
  - MultiheadAttention's in_proj_weight (3E, E) is three (E, E) blocks q, k, v, each transposed.
Every case writes the inputs, the outputs, a random upstream gradient per output (grad_*) and torch's gradients of
every input in the same layouts (d_*).
"""
import os

import torch

from fixture_io import writer

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
torch.manual_seed(1515)
torch.set_default_dtype(torch.float32)


write = writer(__file__, "torch " + torch.__version__, OUT)


def uniform(*shape, low=-1.0, high=1.0):
    return torch.rand(*shape) * (high - low) + low


def leaf(*shape):
    return uniform(*shape).requires_grad_(True)


def keras_blocks(t, axis):
    """torch's gate blocks r, z, n along `axis` → Keras's z, r, h."""
    r, z, n = t.chunk(3, axis)
    return torch.cat([z, r, n], axis)


def gru_keras_weights(prefix, weight_ih, weight_hh, b_ih, b_hh):
    """A torch GRU's parameters and their gradients in Keras's layout and gate order."""
    return {prefix + "kernel": keras_blocks(weight_ih.t(), 1),
            prefix + "recurrent_kernel": keras_blocks(weight_hh.t(), 1),
            prefix + "bias": keras_blocks(torch.stack([b_ih, b_hh]), 1),
            "d_" + prefix + "kernel": keras_blocks(weight_ih.grad.t(), 1),
            "d_" + prefix + "recurrent_kernel": keras_blocks(weight_hh.grad.t(), 1),
            "d_" + prefix + "bias": keras_blocks(torch.stack([b_ih.grad, b_hh.grad]), 1)}


def lengths_mask(lengths, t):
    return (torch.arange(t)[None, :] < lengths[:, None]).float()


def gru_torch():
    """torch.nn.GRU without a mask, with an initial state; its raw parameters, for gru_weights_from_torch."""
    n, t, e, u = 2, 4, 3, 3
    gru = torch.nn.GRU(e, u, batch_first=True)
    x, h0 = leaf(n, t, e), leaf(n, u)
    outputs, h = gru(x, h0[None])
    grad_outputs, grad_h = uniform(n, t, u), uniform(n, u)
    ((outputs * grad_outputs).sum() + (h[0] * grad_h).sum()).backward()
    p = {"weight_ih": gru.weight_ih_l0, "weight_hh": gru.weight_hh_l0, "b_ih": gru.bias_ih_l0,
         "b_hh": gru.bias_hh_l0}
    record = {"x": x, "h0": h0, "outputs": outputs, "h": h[0], "grad_outputs": grad_outputs, "grad_h": grad_h,
              "d_x": x.grad, "d_h0": h0.grad}
    record.update(p)
    record.update({"d_" + k: v.grad for k, v in p.items()})
    # The same gradients in libnn's layouts, torch order (transposes, stacked biases) and Keras order.
    record.update({"d_kernel_torch": p["weight_ih"].grad.t(), "d_recurrent_kernel_torch": p["weight_hh"].grad.t(),
                   "d_bias_torch": torch.stack([p["b_ih"].grad, p["b_hh"].grad])})
    record.update(gru_keras_weights("keras_", *p.values()))
    write("recurrent_gru_torch.txt", record)


def gru_packed():
    """torch.nn.GRU over padded sequences (pack_padded_sequence): the reference for a trailing mask."""
    n, t, e, u = 3, 5, 4, 3
    lengths = torch.tensor([5, 2, 4])
    mask = lengths_mask(lengths, t)
    gru = torch.nn.GRU(e, u, batch_first=True)
    x = leaf(n, t, e)
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out_packed, h = gru(packed)
    outputs, _ = torch.nn.utils.rnn.pad_packed_sequence(out_packed, batch_first=True, total_length=t)
    grad_outputs, grad_h = uniform(n, t, u) * mask[:, :, None], uniform(n, u)  # no gradient at padded positions
    ((outputs * grad_outputs).sum() + (h[0] * grad_h).sum()).backward()
    record = {"x": x, "mask": mask, "outputs": outputs, "h": h[0], "grad_outputs": grad_outputs, "grad_h": grad_h,
              "d_x": x.grad}
    record.update(gru_keras_weights("", gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0))
    write("recurrent_gru_packed.txt", record)


def gru_masked_loop():
    """torch.nn.GRUCell stepped by hand, carrying h on masked steps (masks anywhere), with an initial state."""
    n, t, e, u = 3, 5, 2, 3
    mask = torch.tensor([[1, 0, 1, 1, 0], [0, 1, 1, 0, 1], [1, 1, 1, 1, 1]], dtype=torch.float32)
    cell = torch.nn.GRUCell(e, u)
    x, h0 = leaf(n, t, e), leaf(n, u)
    h, outs = h0, []
    for s in range(t):
        h = torch.where(mask[:, s:s + 1] > 0, cell(x[:, s], h), h)
        outs.append(h)
    outputs = torch.stack(outs, 1)
    grad_outputs, grad_h = uniform(n, t, u), uniform(n, u)
    ((outputs * grad_outputs).sum() + (h * grad_h).sum()).backward()
    record = {"x": x, "mask": mask, "h0": h0, "outputs": outputs, "h": h, "grad_outputs": grad_outputs,
              "grad_h": grad_h, "d_x": x.grad, "d_h0": h0.grad}
    record.update(gru_keras_weights("", cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh))
    write("recurrent_gru_masked_loop.txt", record)


def gru_reset_before():
    """Keras 2.0's GRU (reset_after=False, hard_sigmoid, one bias (3U), blocks z, r, h) written as a loop, masked,
    with an initial state; torch's autograd gives the gradients."""
    n, t, e, u = 2, 4, 3, 2
    mask = torch.tensor([[1, 1, 0, 1], [0, 1, 1, 1]], dtype=torch.float32)
    x, kernel, recurrent, bias, h0 = leaf(n, t, e), leaf(e, 3 * u), leaf(u, 3 * u), leaf(3 * u), leaf(n, u)
    hard_sigmoid = lambda v: torch.clamp(0.2 * v + 0.5, 0.0, 1.0)
    h, outs = h0, []
    for s in range(t):
        xw = x[:, s] @ kernel + bias
        z = hard_sigmoid(xw[:, :u] + h @ recurrent[:, :u])
        r = hard_sigmoid(xw[:, u:2 * u] + h @ recurrent[:, u:2 * u])
        candidate = torch.tanh(xw[:, 2 * u:] + (r * h) @ recurrent[:, 2 * u:])
        h = torch.where(mask[:, s:s + 1] > 0, z * h + (1 - z) * candidate, h)
        outs.append(h)
    outputs = torch.stack(outs, 1)
    grad_outputs, grad_h = uniform(n, t, u), uniform(n, u)
    ((outputs * grad_outputs).sum() + (h * grad_h).sum()).backward()
    write("recurrent_gru_reset_before.txt",
          {"x": x, "mask": mask, "h0": h0, "kernel": kernel, "recurrent_kernel": recurrent, "bias": bias,
           "outputs": outputs, "h": h, "grad_outputs": grad_outputs, "grad_h": grad_h, "d_x": x.grad,
           "d_h0": h0.grad, "d_kernel": kernel.grad, "d_recurrent_kernel": recurrent.grad, "d_bias": bias.grad})


def bidirectional_packed(kind):
    """torch.nn.LSTM / GRU(bidirectional=True) over packed sequences from initial states, outputs concatenated
    [forward, backward]."""
    n, t, e, u = 3, 5, 3, 2
    lengths = torch.tensor([3, 5, 1])
    mask = lengths_mask(lengths, t)
    rnn = (torch.nn.LSTM if kind == "lstm" else torch.nn.GRU)(e, u, batch_first=True, bidirectional=True)
    x, h0, c0 = leaf(n, t, e), leaf(2, n, u), leaf(2, n, u)  # states (2, N, U): forward, backward
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out_packed, state = rnn(packed, (h0, c0) if kind == "lstm" else h0)
    outputs, _ = torch.nn.utils.rnn.pad_packed_sequence(out_packed, batch_first=True, total_length=t)
    h = state[0] if kind == "lstm" else state
    grad_outputs, grad_last = uniform(n, t, 2 * u) * mask[:, :, None], uniform(n, 2 * u)
    last = torch.cat([h[0], h[1]], 1)  # what return_sequences=False gives
    objective = (outputs * grad_outputs).sum() + (last * grad_last).sum()
    record = {"x": x, "mask": mask, "h0_forward": h0[0], "h0_backward": h0[1], "outputs": outputs, "last": last,
              "h_forward": h[0], "h_backward": h[1]}
    if kind == "lstm":
        grad_c = uniform(2, n, u)
        objective = objective + (state[1] * grad_c).sum()
        record.update({"c0_forward": c0[0], "c0_backward": c0[1], "c_forward": state[1][0], "c_backward": state[1][1],
                       "grad_c_forward": grad_c[0], "grad_c_backward": grad_c[1]})
    objective.backward()
    record.update({"grad_outputs": grad_outputs, "grad_last": grad_last, "d_x": x.grad, "d_h0_forward": h0.grad[0],
                   "d_h0_backward": h0.grad[1]})
    if kind == "lstm":
        record.update({"d_c0_forward": c0.grad[0], "d_c0_backward": c0.grad[1]})
    for direction, suffix in (("forward.", "_l0"), ("backward.", "_l0_reverse")):
        w_ih, w_hh = getattr(rnn, "weight_ih" + suffix), getattr(rnn, "weight_hh" + suffix)
        b_ih, b_hh = getattr(rnn, "bias_ih" + suffix), getattr(rnn, "bias_hh" + suffix)
        if kind == "lstm":
            record.update({direction + "kernel": w_ih.t(), direction + "recurrent_kernel": w_hh.t(),
                           direction + "bias": b_ih + b_hh, "d_" + direction + "kernel": w_ih.grad.t(),
                           "d_" + direction + "recurrent_kernel": w_hh.grad.t(), "d_" + direction + "bias": b_ih.grad})
        else:
            record.update(gru_keras_weights(direction, w_ih, w_hh, b_ih, b_hh))
    write("recurrent_bi%s_packed.txt" % kind, record)


def bidirectional_merges():
    """torch.nn.GRU(bidirectional=True) without a mask; the sum, mul and ave merges of its two halves."""
    n, t, e, u = 2, 4, 3, 2
    rnn = torch.nn.GRU(e, u, batch_first=True, bidirectional=True)
    x = leaf(n, t, e)
    record = {"x": x}
    merges = {"sum": lambda f, b: f + b, "mul": lambda f, b: f * b, "ave": lambda f, b: (f + b) / 2}
    for mode, merge in merges.items():
        x.grad = None
        outputs, h = rnn(x)
        merged = merge(outputs[..., :u], outputs[..., u:])
        last = merge(h[0], h[1])
        grad_outputs, grad_last = uniform(n, t, u), uniform(n, u)
        ((merged * grad_outputs).sum() + (last * grad_last).sum()).backward()
        record.update({mode + "_outputs": merged, mode + "_last": last, mode + "_grad_outputs": grad_outputs,
                       mode + "_grad_last": grad_last, mode + "_d_x": x.grad.clone()})
    for direction, suffix in (("forward.", "_l0"), ("backward.", "_l0_reverse")):
        w = [getattr(rnn, name + suffix) for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        record.update({direction + "kernel": keras_blocks(w[0].t(), 1),
                       direction + "recurrent_kernel": keras_blocks(w[1].t(), 1),
                       direction + "bias": keras_blocks(torch.stack([w[2], w[3]]), 1)})
    write("recurrent_bigru_merges.txt", record)


def bidirectional_gaps():
    """Keras's Bidirectional over a mask with gaps, written out with two torch.nn.GRUCells: the backward copy reads
    x and the mask reversed along time (go_backwards), carries h over masked steps, and its outputs are reversed
    back; outputs concatenated [forward, backward]."""
    n, t, e, u = 2, 5, 3, 2
    mask = torch.tensor([[1, 0, 1, 1, 0], [0, 1, 1, 0, 1]], dtype=torch.float32)
    cells = [torch.nn.GRUCell(e, u), torch.nn.GRUCell(e, u)]
    x = leaf(n, t, e)

    def run(cell, xs, ms):
        h, outs = torch.zeros(n, u), []
        for s in range(t):
            h = torch.where(ms[:, s:s + 1] > 0, cell(xs[:, s], h), h)
            outs.append(h)
        return torch.stack(outs, 1), h

    forward, h_forward = run(cells[0], x, mask)
    backward, h_backward = run(cells[1], x.flip(1), mask.flip(1))
    outputs = torch.cat([forward, backward.flip(1)], 2)
    last = torch.cat([h_forward, h_backward], 1)
    grad_outputs, grad_last = uniform(n, t, 2 * u), uniform(n, 2 * u)
    ((outputs * grad_outputs).sum() + (last * grad_last).sum()).backward()
    record = {"x": x, "mask": mask, "outputs": outputs, "last": last, "grad_outputs": grad_outputs,
              "grad_last": grad_last, "d_x": x.grad}
    for direction, cell in (("forward.", cells[0]), ("backward.", cells[1])):
        record.update(gru_keras_weights(direction, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh))
    write("recurrent_bigru_gaps.txt", record)


def attention_case(record, prefix, mha, query, key, value, attn_mask=None, key_padding_mask=None):
    """One torch.nn.MultiheadAttention(batch_first=True) call; keep masks are 1/0 here, torch's bool masks True =
    dropped. attn_mask (Tq, Tk) or (N, Tq, Tk) (repeated for torch's (N·H, Tq, Tk))."""
    e, heads = mha.embed_dim, mha.num_heads
    torch_mask = None
    if attn_mask is not None:
        torch_mask = attn_mask == 0
        if attn_mask.dim() == 3:
            torch_mask = torch_mask.repeat_interleave(heads, 0)
    torch_padding = None if key_padding_mask is None else key_padding_mask == 0
    for t in (query, key, value):
        t.grad = None
    for p in mha.parameters():
        p.grad = None
    out, weights = mha(query, key, value, key_padding_mask=torch_padding, attn_mask=torch_mask,
                       need_weights=True, average_attn_weights=False)
    grad_output, grad_weights = uniform(*out.shape), uniform(*weights.shape)
    ((out * grad_output).sum() + (weights * grad_weights).sum()).backward()
    if mha._qkv_same_embed_dim:
        wq, wk, wv = mha.in_proj_weight.chunk(3, 0)
        gq, gk, gv = mha.in_proj_weight.grad.chunk(3, 0)
    else:
        wq, wk, wv = mha.q_proj_weight, mha.k_proj_weight, mha.v_proj_weight
        gq, gk, gv = wq.grad, wk.grad, wv.grad
    bq, bk, bv = mha.in_proj_bias.chunk(3, 0)
    dbq, dbk, dbv = mha.in_proj_bias.grad.chunk(3, 0)
    values = {"query": query, "key": key, "value": value, "output": out, "weights": weights,
              "grad_output": grad_output, "grad_weights": grad_weights, "d_query": query.grad, "d_key": key.grad,
              "d_value": value.grad,
              "query.kernel": wq.t(), "key.kernel": wk.t(), "value.kernel": wv.t(),
              "query.bias": bq, "key.bias": bk, "value.bias": bv,
              "attention_output.kernel": mha.out_proj.weight.t(), "attention_output.bias": mha.out_proj.bias,
              "d_query.kernel": gq.t(), "d_key.kernel": gk.t(), "d_value.kernel": gv.t(),
              "d_query.bias": dbq, "d_key.bias": dbk, "d_value.bias": dbv,
              "d_attention_output.kernel": mha.out_proj.weight.grad.t(),
              "d_attention_output.bias": mha.out_proj.bias.grad}
    if attn_mask is not None:
        values["mask"] = attn_mask
    if key_padding_mask is not None:
        values["key_padding"] = key_padding_mask
    record.update({prefix + "_" + k: v for k, v in values.items()})


def attention():
    record = {}
    # Self-attention, E = 6 in 2 heads, a (Tq, Tk) mask and key padding (no row left without a key).
    n, t, e = 2, 4, 6
    mha = torch.nn.MultiheadAttention(e, 2, batch_first=True, bias=True)
    with torch.no_grad():  # torch starts its biases at zero: give them values worth checking
        mha.in_proj_bias.uniform_(-0.5, 0.5)
        mha.out_proj.bias.uniform_(-0.5, 0.5)
    x = leaf(n, t, e)
    mask = torch.tensor([[1, 1, 0, 1], [1, 1, 1, 1], [0, 1, 1, 0], [1, 0, 1, 1]], dtype=torch.float32)
    padding = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]], dtype=torch.float32)
    attention_case(record, "self", mha, x, x, x, attn_mask=mask, key_padding_mask=padding)
    # Causal self-attention (torch's mask: the strict upper triangle dropped).
    causal = torch.tril(torch.ones(t, t))
    attention_case(record, "causal", mha, x, x, x, attn_mask=causal)
    # Cross-attention, 3 heads of 2, keys of 5 features and values of 4, a per-batch mask (N, Tq, Tk).
    n, tq, tk, e = 2, 3, 5, 6
    mha = torch.nn.MultiheadAttention(e, 3, batch_first=True, kdim=5, vdim=4)
    with torch.no_grad():
        mha.in_proj_bias.uniform_(-0.5, 0.5)
        mha.out_proj.bias.uniform_(-0.5, 0.5)
    query, key, value = leaf(n, tq, e), leaf(n, tk, 5), leaf(n, tk, 4)
    per_batch = (torch.rand(n, tq, tk) > 0.4).float()
    per_batch[:, :, 0] = 1  # every query keeps a key
    attention_case(record, "cross", mha, query, key, value, attn_mask=per_batch)
    write("recurrent_attention.txt", record)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    gru_torch()
    gru_packed()
    gru_masked_loop()
    gru_reset_before()
    bidirectional_packed("lstm")
    bidirectional_packed("gru")
    bidirectional_merges()
    attention()
    bidirectional_gaps()
