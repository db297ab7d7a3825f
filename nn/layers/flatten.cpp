// flatten.cpp: being written (issue 15).
