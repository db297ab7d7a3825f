/// @file
/// nn::distributed: data-parallel training on MPI (Open MPI; the target nn::distributed, built when CMake finds
/// MPI). Every process of an `mpirun -np N` job holds the whole model, trains on its shard of every global batch
/// and averages the gradients with the others before each optimiser step, so that N processes take the steps one
/// process would take on the global batch.
///
///     nn::distributed::Context mpi(argc, argv);                 // MPI_Init_thread … MPI_Finalize
///     nn::distributed::DataParallel parallel;                   // MPI_COMM_WORLD
///     nn::Trainer trainer(model, adam, {.out_dir = "run", .parallel = &parallel});
///     trainer.fit(loader, &val_loader, loss);                   // loader's batch_size: the global batch
///
/// Averaging: each process passes the number of items its loss is the mean over (examples, or the words of a masked
/// loss); the gradients are summed weighted by items / Σ items, so the result is the gradient of the global batch's
/// mean. Buckets: the gradients are packed, in reverse registration order (about the order backward produces them),
/// into buffers of about 25 MB, each all-reduced by a nonblocking MPI_Iallreduce, and all are waited for before the
/// step. Overlap: with GradientReducer::begin called before backward (the Trainer does, through
/// Parallel::before_backward), a bucket is packed and its reduction started during backward, as soon as the autograd
/// says every gradient in it is complete (nn::LeafGradientHook); buckets start in their fixed order. Determinism: for
/// a fixed number of processes the buckets, their order and MPI's reduction are fixed, so a run repeats to the bit
/// (overlapped or not: the same sums); N processes equal one to float rounding (about 1e-7 relative per step).
///
/// Failure: MPI's default error handler (MPI_ERRORS_ARE_FATAL) stays: a process that dies (kill -9) makes mpirun
/// end the whole job, naming the rank. A process that ends on an exception that unwinds through its Context skips
/// MPI_Finalize (see ~Context), so mpirun ends the others too instead of leaving them waiting in a reduction. A
/// program that catches the error itself (inside the Context's scope) must end the job with Job::end (MPI_Abort):
/// returning normally would call MPI_Finalize while the other processes wait in a collective. The Trainer's own
/// checks that depend on one process's data (a non-finite loss) are made on the averaged values, so every process
/// throws together.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "nn/autograd/autograd.h"
#include "nn/layers/module.h"
#include "nn/train/trainer.h"

namespace nn::distributed {

/// MPI for this process: initialised from the mpirun environment (MPI_Init_thread, MPI_THREAD_FUNNELED: only the
/// thread that made the Context calls MPI) and finalised when it is destroyed. Works as a single process without
/// mpirun too (MPI's singleton start). One per process; a second while MPI is initialised uses it as it is.
class Context {
 public:
  /// Throws nn::Error when MPI cannot be initialised or gives less than MPI_THREAD_FUNNELED.
  Context(int& argc, char**& argv);
  /// MPI_Finalize when this Context initialised MPI; skipped while an exception unwinds, so that mpirun ends the
  /// job (a process leaving without MPI_Finalize aborts it) rather than the others waiting for this one forever.
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  int rank() const { return rank_; }  ///< this process, 0 … size() − 1
  int size() const { return size_; }  ///< the processes of the job

 private:
  int rank_ = 0, size_ = 1;
  bool owns_ = false;  // this Context called MPI_Init_thread
};

/// This process's rank and the job's size in MPI_COMM_WORLD (MPI must be initialised).
int rank();
int size();

/// Makes `module`'s parameters and buffers (BatchNorm's running statistics) those of rank `root` on every process.
/// Throws nn::Error when the processes' models differ in their number of values or a tensor is not float32.
void broadcast(Module& module, int root = 0);

/// Σ over the processes of each value, in place (MPI_Allreduce of doubles).
void sum(std::vector<double>& values);

/// How GradientReducer packs.
struct ReducerOptions {
  int64_t bucket_bytes = 25 << 20;  ///< the size a bucket is filled to (a larger gradient gets a bucket of its own)
};

/// The gradient all-reduce in buckets (see the file comment).
class GradientReducer {
 public:
  explicit GradientReducer(ReducerOptions options = {});
  /// After backward: replaces every gradient of `parameters` (float32; an undefined one counts as zeros) by
  /// Σ_ranks items·grad / Σ_ranks items and returns {Σ items·loss / Σ items, Σ items}: begin and finish at once.
  /// Every process must call it with the same parameters' shapes in the same order. Throws nn::Error when Σ items ≤ 0
  /// or a gradient is not float32.
  std::pair<double, double> average(const std::vector<Tensor>& parameters, double loss, double items);
  /// The same in two halves, so that the reduction overlaps backward: begin, before backward on this process's
  /// `loss` over `items`, sums (loss·items, items) over the processes, lays the buckets out and, until finish, packs
  /// and starts each bucket as soon as backward has completed all its gradients (nn::LeafGradientHook; in bucket
  /// order). Throws nn::Error when Σ items ≤ 0.
  void begin(const std::vector<Tensor>& parameters, double loss, double items);
  /// After backward: starts the buckets not started yet, waits for every bucket and writes the averages into the
  /// gradients; returns what average returns. Throws nn::Error without a begin, or for a gradient not float32.
  std::pair<double, double> finish();
  /// The buckets of the last average (their number depends only on the parameters' sizes and bucket_bytes).
  size_t buckets() const { return buckets_.size(); }
  /// How many of them the last finish found already started during backward.
  size_t started_during_backward() const { return early_; }
  ~GradientReducer();

 private:
  struct Pass;  // what lives between begin and finish (distributed.cpp: MPI requests stay out of this header)
  void gradient_ready(const Tensor& leaf);  // the LeafGradientHook's call
  void start(size_t bucket);                // pack bucket (scaled) and start its MPI_Iallreduce
  ReducerOptions options_;
  std::vector<std::vector<float>> buckets_;  // kept between calls: no fresh memory per step
  std::unique_ptr<Pass> pass_;
  size_t early_ = 0;
};

/// nn::Parallel on MPI_COMM_WORLD for nn::Trainer (TrainerOptions::parallel).
class DataParallel : public Parallel {
 public:
  explicit DataParallel(ReducerOptions options = {});
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void broadcast(Module& model) override { distributed::broadcast(model, 0); }
  void before_backward(const std::vector<Tensor>& parameters, double loss, double items) override {
    reducer_.begin(parameters, loss, items);
    begun_ = true;
  }
  std::pair<double, double> average_gradients(const std::vector<Tensor>& parameters, double loss,
                                              double items) override {
    if (!begun_) return reducer_.average(parameters, loss, items);
    begun_ = false;
    return reducer_.finish();
  }
  void sum(std::vector<double>& values) override { distributed::sum(values); }
  const GradientReducer& reducer() const { return reducer_; }

 private:
  int rank_ = 0, size_ = 1;
  GradientReducer reducer_;
  bool begun_ = false;  // before_backward began an overlapped average
};

/// A training program's job: MPI and a DataParallel when the program was started by mpirun (or another MPI
/// launcher) with more than one process, nothing at all otherwise — so the same program runs alone without
/// touching MPI.
///
///     nn::distributed::Job job(argc, argv);
///     config.parallel = job.parallel();     // null when alone
///     …
///     return job.end(status);               // a failure on one rank ends every rank (MPI_Abort)
class Job {
 public:
  Job(int& argc, char**& argv);
  int rank() const { return context_ ? context_->rank() : 0; }
  int size() const { return context_ ? context_->size() : 1; }
  /// The Trainer's Parallel (TrainerOptions::parallel), or null for a single process.
  Parallel* parallel() { return parallel_ ? &*parallel_ : nullptr; }
  /// Waits until every process has come here (nothing when alone), sleeping rather than spinning.
  void barrier();
  /// The program's exit status: a non-zero one with other processes running ends the whole job at once with it
  /// (MPI_Abort: the others may be waiting in a reduction for this one); 0 is returned as it is.
  int end(int status);

 private:
  std::optional<Context> context_;
  std::optional<DataParallel> parallel_;
};

/// Whether this process was started by an MPI launcher (Open MPI's OMPI_COMM_WORLD_SIZE, or PMI_SIZE / PMIX_RANK).
bool launched_by_mpi();

}  // namespace nn::distributed
