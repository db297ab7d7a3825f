// losses.cpp: being written (issue 15).
