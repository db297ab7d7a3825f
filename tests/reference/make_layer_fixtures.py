#!/usr/bin/python3
"""Writes the PyTorch reference fixtures of tests/test_layer_ops.cpp (layer_*.txt) into tests/reference/fixtures/.

Run with Debian's python3-torch (CPU):  /usr/bin/python3 tests/reference/make_layer_fixtures.py
File format as tests/reference/make_fixtures.py (one tensor per two lines, 9 significant digits).

layer_norm: torch.nn.functional.layer_norm as it is (biased variance over the last axes).

conv2d_transpose: libnn is NHWC with Keras's Conv2DTranspose kernel (KH, KW, OC, C) and Keras's output size;
torch is NCHW with weight (C, OC, KH, KW) and symmetric padding. So each case
  1. permutes x to NCHW and the kernel to torch's layout (permute(3, 2, 0, 1)),
  2. runs torch.nn.functional.conv_transpose2d with stride s and no padding: the full output, (H − 1)·s + k rows,
  3. keeps Keras's out rows of it from TensorFlow's pad_top = ⌊max(full − out, 0)/2⌋ (the odd row is cut at the
     bottom), or appends zero rows when out > full (valid padding with k < s), then adds the bias,
with out from Keras's deconv_output_length (keras/utils/conv_utils.py), written out again below.
Gradients come from torch's autograd through all of it.
"""
import os

import torch

from fixture_io import writer

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
torch.manual_seed(2026)
torch.set_default_dtype(torch.float32)


write = writer(__file__, "torch " + torch.__version__, OUT)


def leaf(*shape, low=-1.0, high=1.0):
    return (torch.rand(*shape) * (high - low) + low).requires_grad_(True)


def layer_norm_case(name, x_shape, k, eps, affine):
    x = leaf(*x_shape, low=-2.0, high=3.0)
    normalized = x_shape[-k:]
    gamma = leaf(*normalized, low=0.5, high=1.5) if affine else None
    beta = leaf(*normalized) if affine else None
    y = torch.nn.functional.layer_norm(x, normalized, gamma, beta, eps)
    g = torch.rand(y.shape) * 2 - 1
    y.backward(g)
    tensors = {"x": x, "y": y, "upstream": g, "grad_x": x.grad}
    if affine:
        tensors.update({"gamma": gamma, "beta": beta, "grad_gamma": gamma.grad, "grad_beta": beta.grad})
    write(name, tensors)


def keras_output_length(size, k, s, padding, output_padding):
    if output_padding is None:
        return size * s + max(k - s, 0) if padding == "valid" else size * s
    pad = 0 if padding == "valid" else k // 2
    return (size - 1) * s + k - 2 * pad + output_padding


def keep_rows(full, axis, out):
    """Rows [pad_top, pad_top + out) of `full` along `axis`, zero rows appended when out is longer."""
    length = full.shape[axis]
    if out >= length:  # F.pad takes (left, right, top, bottom)
        widths = (0, out - length) if axis == 3 else (0, 0, 0, out - length)
        return torch.nn.functional.pad(full, widths)
    top = (length - out) // 2
    return full.narrow(axis, top, out)


def conv_transpose_case(name, n, h, w, c, oc, kh, kw, s, padding, output_padding=None):
    x, kernel, b = leaf(n, h, w, c), leaf(kh, kw, oc, c), leaf(oc)  # NHWC, Keras's (KH, KW, OC, C)
    full = torch.nn.functional.conv_transpose2d(x.permute(0, 3, 1, 2), kernel.permute(3, 2, 0, 1), stride=s)
    oh = keras_output_length(h, kh, s, padding, output_padding)
    ow = keras_output_length(w, kw, s, padding, output_padding)
    y_nchw = keep_rows(keep_rows(full, 2, oh), 3, ow) + b[None, :, None, None]
    y = y_nchw.permute(0, 2, 3, 1)
    g = torch.rand(y.shape) * 2 - 1
    y.backward(g)
    write(name, {"x": x, "weight": kernel, "bias": b, "y": y, "upstream": g, "grad_x": x.grad,
                 "grad_weight": kernel.grad, "grad_bias": b.grad})


def main():
    layer_norm_case("layer_norm_last.txt", (2, 3, 5), 1, 1e-5, True)
    layer_norm_case("layer_norm_last2.txt", (3, 4, 6), 2, 1e-3, True)
    layer_norm_case("layer_norm_plain.txt", (4, 7), 1, 1e-5, False)
    conv_transpose_case("layer_conv2d_transpose_3x3_s1_valid.txt", 2, 4, 5, 3, 4, 3, 3, 1, "valid")
    conv_transpose_case("layer_conv2d_transpose_3x3_s2_valid.txt", 2, 3, 4, 3, 2, 3, 3, 2, "valid")
    conv_transpose_case("layer_conv2d_transpose_3x3_s1_same.txt", 1, 5, 4, 2, 3, 3, 3, 1, "same")
    conv_transpose_case("layer_conv2d_transpose_3x3_s2_same.txt", 2, 3, 5, 3, 4, 3, 3, 2, "same")
    conv_transpose_case("layer_conv2d_transpose_4x2_s2_same.txt", 1, 3, 4, 2, 3, 4, 2, 2, "same")
    conv_transpose_case("layer_conv2d_transpose_2x2_s3_valid.txt", 1, 3, 2, 2, 2, 2, 2, 3, "valid")
    conv_transpose_case("layer_conv2d_transpose_3x3_s2_same_op1.txt", 1, 3, 3, 2, 2, 3, 3, 2, "same", 1)
    conv_transpose_case("layer_conv2d_transpose_3x3_s3_valid_op2.txt", 1, 2, 3, 2, 3, 3, 3, 3, "valid", 2)


if __name__ == "__main__":
    main()
