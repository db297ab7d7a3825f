// conv2d_transpose.cpp: being written (issue 15).
