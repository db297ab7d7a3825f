#!/usr/bin/python3
"""Writes the fuzz_keras_h5 seeds: two tiny Keras weight files, Keras 1 (byte-string attributes, weights at the root)
and Keras 2 (UTF-8 attributes, under model_weights/). Run with Debian's python3-h5py:
    /usr/bin/python3 fuzz/make_h5_seeds.py fuzz/corpus/fuzz_keras_h5"""
import os
import sys

import h5py
import numpy as np

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for keras2 in (False, True):
    encode = (lambda t: t) if keras2 else (lambda t: t.encode())
    with h5py.File(os.path.join(out, "keras2.h5" if keras2 else "keras1.h5"), "w", libver="earliest") as h5:
        h5.attrs["keras_version"] = encode("2.9.0" if keras2 else "1.2.2")
        root = h5.create_group("model_weights") if keras2 else h5
        group = root.create_group("dense")
        names = []
        for suffix, value in (("kernel", np.arange(6, dtype=np.float32).reshape(2, 3)), ("bias", np.ones(3, np.float32))):
            name = "dense/%s:0" % suffix if keras2 else "dense_%s:0" % ("W" if suffix == "kernel" else "b")
            group.create_dataset(name, data=value)
            names.append(encode(name))
        group.attrs["weight_names"] = names
        root.attrs["layer_names"] = [encode("dense")]
