// gru.cpp: being written (issue 15).
