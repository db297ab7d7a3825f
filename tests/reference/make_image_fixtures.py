#!/usr/bin/python3
"""Writes tests/reference/fixtures/images.txt: what PIL (as keras.utils.load_img uses it) makes of two real photos
of tests/data/photos (copied from ../shared/data/photos/skimage) — decoded pixels, and 299×299 resizes with NEAREST (Keras's default) and BILINEAR —
sampled every 13th row and column, in the format of make_fixtures.py.

Run with Debian's python3-pil:  /usr/bin/python3 tests/reference/make_image_fixtures.py
"""
import os

import numpy as np
from PIL import Image

from fixture_io import write_fixture

HERE = os.path.dirname(os.path.abspath(__file__))
PHOTOS = os.path.join(HERE, "..", "data", "photos")
STEP = 13


def sample(array):
    return array[::STEP, ::STEP, :].astype(np.float32)


def main():
    tensors = {}
    for name in ("chelsea.png", "rocket.jpg", "camera.png", "astronaut.png"):
        image = Image.open(os.path.join(PHOTOS, name)).convert("RGB")
        key = name.split(".")[0]
        tensors[key + "_decoded"] = sample(np.asarray(image))
        tensors[key + "_nearest"] = sample(np.asarray(image.resize((299, 299), Image.NEAREST)))
        tensors[key + "_bilinear"] = sample(np.asarray(image.resize((299, 299), Image.BILINEAR)))
    out = os.path.join(HERE, "fixtures", "images.txt")
    write_fixture(out, tensors, __file__, "PIL " + Image.__version__)


if __name__ == "__main__":
    main()
