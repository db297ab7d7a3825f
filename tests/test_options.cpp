// test_options: being written (issue 15).
#include "support/check.h"
