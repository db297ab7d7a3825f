// bidirectional.cpp: being written (issue 15).
