// One place decides how many threads our OpenMP kernels and OpenBLAS use (DESIGN.md item 8):
// NN_NUM_THREADS from the environment, by default every core.
#pragma once

namespace nn {

int num_threads();
// Sets the thread count of our kernels and of OpenBLAS together; n ≥ 1.
void set_num_threads(int n);

namespace detail {
// Applies NN_NUM_THREADS once; called by the library before its first parallel work.
void init_threads_once();
}  // namespace detail

}  // namespace nn
