// scheduler.cpp: being written (issue 15).
#include "nn/optim/scheduler.h"
