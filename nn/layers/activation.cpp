// activation.cpp: being written (issue 15).
