#!/usr/bin/python3
"""Writes the small HDF5 files that test libnn's own HDF5 reader (tests/test_keras_h5.cpp) on the parts of the format
the two Xception fixtures do not reach, each made by h5py/libhdf5 itself:

  many_layers.h5   three layers, the first with 300 one-number weights (its group's B-tree needs two levels);
                   `layer_names` and that layer's `weight_names` split into `…0`, `…1` as Keras does for long lists;
                   weight i of the first layer holds i + 0.5, the other layers' weights -1 and -2
  formats.h5       one layer whose weights are float64, big-endian float32 and compact-layout float32, with
                   space-padded and variable-length UTF-8 names; values in the file's `expected` attribute
  userblock.h5     a Keras-1 style file behind a 512-byte user block (the superblock is not at 0)
  latest.h5        written with libver='latest' (version-2 superblock): refused by name
  chunked.h5       a chunked, gzip-compressed weight: refused by name
  integers.h5      an int32 weight: refused by name

Run with Debian's python3-h5py:  /usr/bin/python3 tests/reference/make_h5_cases.py tests/reference/fixtures/h5
"""
import os
import sys

import h5py
import numpy as np

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "h5")
os.makedirs(out, exist_ok=True)


def keras_layer(root, name, weights):
    """A Keras-1 layer group: datasets named `<name>_<suffix>:0` and the `weight_names` attribute."""
    group = root.create_group(name)
    names = []
    for suffix, value in weights:
        dataset = "%s_%s:0" % (name, suffix)
        group.create_dataset(dataset, data=value)
        names.append(dataset.encode())
    group.attrs["weight_names"] = names
    return group


with h5py.File(os.path.join(out, "many_layers.h5"), "w", libver="earliest") as h5:
    big = h5.create_group("dense_1")
    names = []
    for i in range(300):
        big.create_dataset("dense_1_W%d:0" % i, data=np.array([i + 0.5], np.float32))
        names.append(b"dense_1_W%d:0" % i)
    big.attrs["weight_names0"] = names[:200]
    big.attrs["weight_names1"] = names[200:]
    keras_layer(h5, "dense_2", [("b", np.array([-1.0], np.float32))])
    keras_layer(h5, "dense_3", [("b", np.array([-2.0], np.float32))])
    h5.attrs["layer_names0"] = [b"dense_1", b"dense_2"]
    h5.attrs["layer_names1"] = [b"dense_3"]

with h5py.File(os.path.join(out, "formats.h5"), "w", libver="earliest") as h5:
    group = h5.create_group("mixed")
    kernel = (np.arange(6, dtype=np.float64).reshape(2, 3) - 2.5) / 3.0
    bias = np.array([1.5, -2.25, 1e-3], dtype=">f4")
    group.create_dataset("kernel:0", data=kernel)
    group.create_dataset("bias:0", data=bias)
    space = h5py.h5s.create_simple((4,))
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_layout(h5py.h5d.COMPACT)
    compact = h5py.h5d.create(group.id, b"compact:0", h5py.h5t.IEEE_F32LE, space, dcpl=dcpl)
    compact_values = np.array([0.25, -0.5, 4.0, 8.0], np.float32)
    compact.write(h5py.h5s.ALL, h5py.h5s.ALL, compact_values)
    # weight_names as space-padded fixed-length strings, layer_names as variable-length UTF-8
    padded = h5py.h5t.C_S1.copy()
    padded.set_size(12)
    padded.set_strpad(h5py.h5t.STR_SPACEPAD)
    values = np.array([b"kernel:0", b"bias:0", b"compact:0"], dtype="S12")
    attr = h5py.h5a.create(group.id, b"weight_names", padded, h5py.h5s.create_simple((3,)))
    attr.write(np.array([v.ljust(12) for v in values], dtype="S12"), mtype=padded)
    h5.attrs.create("layer_names", ["mixed"], dtype=h5py.string_dtype("utf-8"))
    h5.attrs["expected"] = np.concatenate([kernel.ravel().astype(np.float32), bias.astype(np.float32), compact_values])

with h5py.File(os.path.join(out, "userblock.h5"), "w", libver="earliest", userblock_size=512) as h5:
    keras_layer(h5, "dense_1", [("W", np.full((2, 2), 0.75, np.float32))])
    h5.attrs["layer_names"] = [b"dense_1"]

with h5py.File(os.path.join(out, "latest.h5"), "w", libver="latest") as h5:
    keras_layer(h5, "dense_1", [("W", np.ones((2, 2), np.float32))])
    h5.attrs["layer_names"] = [b"dense_1"]

with h5py.File(os.path.join(out, "chunked.h5"), "w", libver="earliest") as h5:
    group = h5.create_group("dense_1")
    group.create_dataset("dense_1_W:0", data=np.ones((8, 8), np.float32), chunks=(4, 4), compression="gzip")
    group.attrs["weight_names"] = [b"dense_1_W:0"]
    h5.attrs["layer_names"] = [b"dense_1"]

with h5py.File(os.path.join(out, "integers.h5"), "w", libver="earliest") as h5:
    keras_layer(h5, "dense_1", [("W", np.ones((2, 2), np.int32))])
    h5.attrs["layer_names"] = [b"dense_1"]
