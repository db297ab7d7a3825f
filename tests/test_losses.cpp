// test_losses: being written (issue 15).
#include "support/check.h"
