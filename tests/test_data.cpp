// test_data: being written (issue 15).
#include "support/check.h"
