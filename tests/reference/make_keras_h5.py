#!/usr/bin/python3
"""Writes a small-width Xception weights file laid out exactly like Keras's official ImageNet file
(xception_weights_tf_dim_ordering_tf_kernels.h5, with the top): Keras-1 layer names and creation order (each down block's
residual convolution and batch norm before its separable convolutions), datasets `<layer>_W:0`,
`<layer>_depthwise_kernel:0`, `<layer>_pointwise_kernel:0`, `<layer>_gamma:0`, `_beta:0`, `_running_mean:0` and
`_running_std:0` (which holds the variance), root attribute `layer_names` and per-layer `weight_names`.

Random weights (seeded). Also writes, for the C++ test, the sum and first value of every tensor under libnn's name.
Also writes a width-1/32 file in the layout newer Keras saves (modern names, UTF-8 strings, model_weights/).
Run with Debian's python3-h5py:  /usr/bin/python3 tests/reference/make_keras_h5.py [WIDTH OUT.h5 SUMS.txt [--notop] [--fan-in-scaled]]
With arguments it writes one Keras-1 file, with the top or (--notop) without it, as Keras's
xception_weights_tf_dim_ordering_tf_kernels_notop.h5 is; tests/reference/fixtures/xception_w32_keras1_notop.h5 (the
loopback-mirror test's stand-in for that download) is `make_keras_h5.py 0.03125 … --notop`.
"""
import os
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def xception_layers(width, top):
    """(libnn layer name, kind, shapes) in Keras-1 creation order; kind: conv, sep, bn, dense."""
    f = lambda n: max(1, int(n * width + 0.5))
    layers = [("block1_conv1", "conv", [(3, 3, 3, f(32))]), ("block1_conv1_bn", "bn", f(32)),
              ("block1_conv2", "conv", [(3, 3, f(32), f(64))]), ("block1_conv2_bn", "bn", f(64))]
    channels = f(64)

    def sep(name, cin, cout):
        layers.append((name, "sep", [(3, 3, cin, 1), (1, 1, cin, cout)]))
        layers.append((name + "_bn", "bn", cout))

    for block, out in ((2, 128), (3, 256), (4, 728)):
        name = "block%d" % block
        layers.append((name + "_residual", "conv", [(1, 1, channels, f(out))]))
        layers.append((name + "_residual_bn", "bn", f(out)))
        sep(name + "_sepconv1", channels, f(out))
        sep(name + "_sepconv2", f(out), f(out))
        channels = f(out)
    for block in range(5, 13):
        for k in (1, 2, 3):
            sep("block%d_sepconv%d" % (block, k), channels, channels)
    layers.append(("block13_residual", "conv", [(1, 1, channels, f(1024))]))
    layers.append(("block13_residual_bn", "bn", f(1024)))
    sep("block13_sepconv1", channels, f(728))
    sep("block13_sepconv2", f(728), f(1024))
    sep("block14_sepconv1", f(1024), f(1536))
    sep("block14_sepconv2", f(1536), f(2048))
    if top:
        layers.append(("predictions", "dense", [(f(2048), 1000), (1000,)]))
    return layers


def write_file(width, out, sums_path, keras2, top, fan_in_scaled=False):
    """Keras 1 (legacy names, fixed-length byte strings) or Keras 2 (layer names, `layer/weight:0` datasets in a
    subgroup, UTF-8 variable-length strings, under model_weights/ as a whole saved model writes them).

    fan_in_scaled: variance-preserving convolution weights (uniform, limit sqrt(3 / fan-in)) and batch norms near the
    identity, so that
    activations keep their scale through the 36 layers and features come out of the size a trained network gives
    (the default ±0.5 weights multiply the scale by ~60 a layer: features near 1e20, whose exp overflows take glibc's
    slow path and make a timing rehearsal unrepresentative). The committed fixtures use the default."""
    rng = np.random.default_rng(16 if not keras2 else 32)
    counters = {"conv": 0, "sep": 0, "bn": 0, "dense": 0}
    keras_prefix = {"conv": "convolution2d", "sep": "separableconvolution2d", "bn": "batchnormalization",
                    "dense": "dense"}
    keras2_suffix = {"W": "kernel", "b": "bias", "running_mean": "moving_mean", "running_std": "moving_variance"}
    encode = (lambda text: text) if keras2 else (lambda text: text.encode())
    layer_names, sums = [encode("input_1")], []
    with h5py.File(out, "w") as h5:
        h5.attrs["keras_version"] = encode("2.9.0" if keras2 else "1.2.2")
        h5.attrs["backend"] = encode("tensorflow")
        root = h5.create_group("model_weights") if keras2 else h5
        root.create_group("input_1").attrs["weight_names"] = []
        for ours, kind, shape in xception_layers(width, top):
            counters[kind] += 1
            name = ours if keras2 else "%s_%d" % (keras_prefix[kind], counters[kind])
            def he(shape_, fan_in):
                limit = np.sqrt(3.0 / fan_in) if fan_in_scaled else 0.5
                return rng.uniform(-limit, limit, shape_)

            if kind == "conv":
                tensors = [("W", "kernel", he(shape[0], np.prod(shape[0][:3])))]
            elif kind == "dense":
                tensors = [("W", "kernel", rng.uniform(-0.05, 0.05, shape[0])),
                           ("b", "bias", rng.uniform(-0.05, 0.05, shape[1]))]
            elif kind == "sep":
                tensors = [("depthwise_kernel", "depthwise_kernel", he(shape[0], 9)),
                           ("pointwise_kernel", "pointwise_kernel", he(shape[1], shape[1][2]))]
            elif fan_in_scaled:
                c = shape
                tensors = [("gamma", "gamma", rng.uniform(0.9, 1.1, c)), ("beta", "beta", rng.uniform(-0.05, 0.05, c)),
                           ("running_mean", "moving_mean", rng.uniform(-0.05, 0.05, c)),
                           ("running_std", "moving_variance", rng.uniform(0.9, 1.1, c))]
            else:
                c = shape
                tensors = [("gamma", "gamma", rng.uniform(0.5, 1.5, c)), ("beta", "beta", rng.uniform(-0.2, 0.2, c)),
                           ("running_mean", "moving_mean", rng.uniform(-0.2, 0.2, c)),
                           ("running_std", "moving_variance", rng.uniform(0.5, 1.5, c))]  # holds the variance
            group = root.create_group(name)
            weight_names = []
            for keras_suffix, our_suffix, value in tensors:
                if keras2:
                    dataset = "%s/%s:0" % (name, keras2_suffix.get(keras_suffix, keras_suffix))
                else:
                    dataset = "%s_%s:0" % (name, keras_suffix)
                group.create_dataset(dataset, data=value.astype(np.float32))
                weight_names.append(encode(dataset))
                sums.append((ours + "." + our_suffix, float(value.astype(np.float32).sum(dtype=np.float64)),
                             float(value.astype(np.float32).reshape(-1)[0])))
            group.attrs["weight_names"] = weight_names
            layer_names.append(encode(name))
            if kind == "bn":  # Keras also lists layers without weights (activations, pools, merges)
                act = "activation_%d" % counters["bn"]
                root.create_group(act).attrs["weight_names"] = []
                layer_names.append(encode(act))
        root.attrs["layer_names"] = layer_names
    with open(sums_path, "w") as f:
        f.write("# written by tests/reference/make_keras_h5.py: libnn name, sum, first value\n")
        for name, total, first in sums:
            f.write("%s %.9g %.9g\n" % (name, total, first))
    print("wrote", out, os.path.getsize(out), "bytes")


def main():
    fixtures = os.path.join(HERE, "fixtures")
    args = [a for a in sys.argv[1:] if a not in ("--notop", "--fan-in-scaled")]
    if len(args) >= 3:  # WIDTH OUT.h5 SUMS.txt [--notop] [--fan-in-scaled]: one Keras-1 file (the full-width check,
        # the mirror test, scripts/rehearse_full.sh)
        write_file(float(args[0]), args[1], args[2], keras2=False, top="--notop" not in sys.argv[1:],
                   fan_in_scaled="--fan-in-scaled" in sys.argv[1:])
        return
    write_file(1.0 / 16, os.path.join(fixtures, "xception_w16_keras1.h5"),
               os.path.join(fixtures, "xception_w16_keras1_sums.txt"), keras2=False, top=True)
    write_file(1.0 / 32, os.path.join(fixtures, "xception_w32_keras2.h5"),
               os.path.join(fixtures, "xception_w32_keras2_sums.txt"), keras2=True, top=False)


if __name__ == "__main__":
    main()
