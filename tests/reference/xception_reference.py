#!/usr/bin/python3
"""PyTorch reference for libnn's Xception: Keras's architecture written independently in torch (TensorFlow 'same'
padding via explicit pads, max-pool padding that never wins), weights taken from a Keras .h5 file by position,
images loaded as keras.utils.load_img does (PIL, nearest resize to 299×299), scaled by x/127.5 − 1.

  xception_reference.py WEIGHTS.h5 OUT.txt IMAGE...   pooled features (no top) and class probabilities (top)
Default (no arguments): the committed small-width fixture on three real photos of tests/data/photos →
tests/reference/fixtures/xception_w16_outputs.txt. Run with Debian's python3-torch, python3-h5py, python3-pil.
"""
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
PHOTOS = os.path.join(HERE, "..", "data", "photos")


def keras_layers(path):
    """The weight arrays of every layer that has weights, in the file's order (Keras matches them by position)."""
    with h5py.File(path, "r") as h5:
        root = h5["model_weights"] if "model_weights" in h5 else h5
        out = []
        for name in root.attrs["layer_names"]:
            group = root[name.decode() if isinstance(name, bytes) else name]
            names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]]
            if names:
                out.append([torch.from_numpy(np.array(group[n], dtype=np.float32)) for n in names])
        return out


def same_pad(x, k, s, value=0.0):
    """TensorFlow 'same' padding of an NCHW tensor: out = ceil(in / s), the odd pixel at the bottom/right."""
    pads = []
    for size in (x.shape[3], x.shape[2]):
        out = -(-size // s)
        total = max((out - 1) * s + k - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads, value=value)


class Reference:
    def __init__(self, path):
        self.layers = iter(keras_layers(path))

    def take(self):
        return next(self.layers)

    def conv(self, x, stride, padding):
        (kernel,) = self.take()  # HWIO
        w = kernel.permute(3, 2, 0, 1)
        if padding == "same":
            x = same_pad(x, w.shape[2], stride)
        return F.conv2d(x, w, stride=stride)

    def sepconv(self, x):
        depthwise, pointwise = self.take()  # (3,3,C,1), (1,1,C,OC)
        c = depthwise.shape[2]
        x = F.conv2d(same_pad(x, 3, 1), depthwise.permute(2, 3, 0, 1), groups=c)
        return F.conv2d(x, pointwise.permute(3, 2, 0, 1))

    def bn(self, x):
        gamma, beta, mean, variance = self.take()  # Keras-1's running_std holds the variance
        return F.batch_norm(x, mean, variance, gamma, beta, training=False, eps=1e-3)

    @staticmethod
    def pool(x):
        return F.max_pool2d(same_pad(x, 3, 2, float("-inf")), 3, 2)

    def forward(self, x, top):
        x = F.relu(self.bn(self.conv(x, 2, "valid")))
        x = F.relu(self.bn(self.conv(x, 1, "valid")))
        for block in (2, 3, 4):
            residual = self.bn(self.conv(x, 2, "same"))  # created before the block's separable convolutions
            y = x if block == 2 else F.relu(x)
            y = self.bn(self.sepconv(y))
            y = self.bn(self.sepconv(F.relu(y)))
            x = self.pool(y) + residual
        for _ in range(8):
            y = x
            for _ in range(3):
                y = self.bn(self.sepconv(F.relu(y)))
            x = y + x
        residual = self.bn(self.conv(x, 2, "same"))
        y = self.bn(self.sepconv(F.relu(x)))
        y = self.bn(self.sepconv(F.relu(y)))
        x = self.pool(y) + residual
        x = F.relu(self.bn(self.sepconv(x)))
        x = F.relu(self.bn(self.sepconv(x)))
        pooled = x.mean(dim=(2, 3))
        if not top:
            return pooled
        kernel, bias = self.take()
        return torch.softmax(pooled @ kernel + bias, dim=1)


def load_input(path):
    image = Image.open(path).convert("RGB").resize((299, 299), Image.NEAREST)
    x = torch.from_numpy(np.asarray(image, dtype=np.float32)) / 127.5 - 1.0
    return x.permute(2, 0, 1).unsqueeze(0)


def main():
    if len(sys.argv) > 3:
        weights, out, images = sys.argv[1], sys.argv[2], sys.argv[3:]
    else:
        weights = os.path.join(HERE, "fixtures", "xception_w16_keras1.h5")
        out = os.path.join(HERE, "fixtures", "xception_w16_outputs.txt")
        images = [os.path.join(PHOTOS, n) for n in ("chelsea.png", "coffee.png", "astronaut.png")]
    with open(out, "w") as f, torch.no_grad():
        f.write("# written by tests/reference/xception_reference.py with torch %s from %s\n"
                % (torch.__version__, os.path.basename(weights)))
        n_layers = len(keras_layers(weights))
        for k, image in enumerate(images):
            x = load_input(image)
            outputs = {"features": Reference(weights).forward(x, top=False)}
            if n_layers == 81:  # the file has the classifier top
                outputs["probabilities"] = Reference(weights).forward(x, top=True)
            for key, value in outputs.items():
                v = value.reshape(-1)
                f.write("tensor %s%d 1 %d\n" % (key, k, v.numel()))
                f.write(" ".join("%.9g" % t for t in v.tolist()) + "\n")
    print("wrote", out)


if __name__ == "__main__":
    main()
