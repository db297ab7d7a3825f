// metrics.cpp: being written (issue 15).
