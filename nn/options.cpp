// options.cpp: being written (issue 15).
