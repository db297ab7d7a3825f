// dataloader.cpp: being written (issue 15).
