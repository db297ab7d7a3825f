// test_recurrent: being written (issue 15).
#include "support/check.h"
