// test_layer_ops: being written (issue 15).
#include "support/check.h"
