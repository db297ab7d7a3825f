"""The fixture file format shared by the make_*_fixtures.py scripts, read in C++ by tests/support/fixtures.h.

A file is a comment line naming the script and the library that computed the values, then per tensor a line
"tensor NAME DIMS EXTENT…" and a line of its float32 values, row-major, printed with 9 significant digits (enough to
read every float32 back exactly).
"""
import os

import numpy as np


def _float32(value):
    """value (a torch tensor, anything torch.as_tensor takes, or a NumPy array) as a contiguous float32 array."""
    if isinstance(value, np.ndarray):
        return value.astype(np.float32)
    import torch  # only the scripts that pass torch values need torch

    return torch.as_tensor(value).detach().to(torch.float32).contiguous().numpy()


def write_fixture(path, tensors, script, tool):
    """Writes `tensors` (a dict of name -> values) to `path`; the header names `script` (its __file__) and `tool`
    (e.g. "torch 1.13.0")."""
    with open(path, "w") as f:
        f.write("# written by tests/reference/%s with %s\n" % (os.path.basename(script), tool))
        for key, value in tensors.items():
            t = _float32(value)
            f.write("tensor %s %d %s\n" % (key, t.ndim, " ".join(str(d) for d in t.shape)))
            f.write(" ".join("%.9g" % v for v in t.reshape(-1).tolist()) + "\n")
    print("wrote", path)


def writer(script, tool, out_dir):
    """write(name, tensors) for a script whose fixtures all go to `out_dir`."""
    return lambda name, tensors: write_fixture(os.path.join(out_dir, name), tensors, script, tool)
