// rmsprop.cpp: being written (issue 15).
