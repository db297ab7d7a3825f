// test_module_api: being written (issue 15).
#include "support/check.h"
