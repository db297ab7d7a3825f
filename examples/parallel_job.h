// The data-parallel job of a training program: nn::distributed::Job (nn/distributed/distributed.h) when libnn was
// built with MPI, so that `mpirun -np N program …` trains on N processes; otherwise a stand-in for one process.
#pragma once

#if NN_HAVE_DISTRIBUTED
#include <nn/distributed/distributed.h>

using ParallelJob = nn::distributed::Job;
#else
#include <nn/train/trainer.h>

struct ParallelJob {
  ParallelJob(int&, char**&) {}
  int rank() const { return 0; }
  int size() const { return 1; }
  nn::Parallel* parallel() { return nullptr; }
  void barrier() {}
  int end(int status) { return status; }
};
#endif
