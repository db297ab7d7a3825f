// conv_transpose.cpp: being written (issue 15).
