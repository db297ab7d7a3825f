// layer_norm.cpp: being written (issue 15).
