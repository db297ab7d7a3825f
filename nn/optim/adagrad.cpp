// adagrad.cpp: being written (issue 15).
