// attention.cpp: being written (issue 15).
