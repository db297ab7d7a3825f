// Fault injection for the crash-safety tests: with NN_FAULT_KILL=NAME:N in the environment, the N-th time the
// process passes fault_point("NAME") it kills itself with SIGKILL — as a power cut or the OOM killer would, with no
// chance to clean up. NAME:N:INT sends SIGINT instead (a Ctrl-C at an exact point). Without the variable a fault
// point costs one branch. Points: "checkpoint_write" (a checkpoint or other atomic file written, not yet renamed
// into place), "feature_append" (a feature-cache batch half appended), "train_step" (before a training step's
// update).
#pragma once

namespace nn {

void fault_point(const char* name);

}  // namespace nn
