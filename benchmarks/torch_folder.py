#!/usr/bin/python3
"""PyTorch + PIL peer for benchmarks/xception's folder row: the pooled Xception features of every file given, end to
end — open, decode, resize to 299×299 (nearest, as Keras's loader and xception_features), scale to [−1, 1], batches
through the frozen channels_last model (torch_xception.py's) — with the decoding in a DataLoader worker process
(overlapped with the forward pass) and on the main thread; the faster is reported.

  torch_folder.py THREADS BATCH FILE...   →   "folder_s S images N"   (seconds for all N files, the faster way)
"""
import os
import sys
import time

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_xception import Xception  # noqa: E402


class Files(torch.utils.data.Dataset):
    def __init__(self, paths):
        self.paths = paths

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        image = Image.open(self.paths[i]).convert("RGB").resize((299, 299), Image.NEAREST)
        x = torch.from_numpy(np.asarray(image, dtype=np.float32) / 127.5 - 1.0)  # (299, 299, 3)
        return x.permute(2, 0, 1)  # (3, 299, 299): channels_last once batched and converted


def main():
    threads, batch, paths = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    torch.set_num_threads(threads)
    model = Xception().eval().to(memory_format=torch.channels_last)
    with torch.no_grad():
        example = torch.rand(batch, 3, 299, 299).to(memory_format=torch.channels_last)
        frozen = torch.jit.freeze(torch.jit.trace(model, example))
        frozen(example)
        frozen(example)  # the profiling runs of the frozen graph

        def run(workers):
            loader = torch.utils.data.DataLoader(Files(paths), batch_size=batch, num_workers=workers)
            start = time.perf_counter()
            for x in loader:
                frozen(x.contiguous(memory_format=torch.channels_last))
            return time.perf_counter() - start

        best = min(run(1), run(0))
    print("folder_s", best, "images", len(paths), flush=True)


if __name__ == "__main__":
    main()
