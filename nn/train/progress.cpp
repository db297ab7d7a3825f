// progress.cpp: being written (issue 15).
