// trainer.cpp: being written (issue 15).
