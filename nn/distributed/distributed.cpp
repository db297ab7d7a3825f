#include "nn/distributed/distributed.h"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <string>
#include <thread>

#include "nn/backends/backend.h"
#include "nn/core/error.h"

namespace nn::distributed {

namespace {

// An MPI call's result: nn::Error naming the call and MPI's message unless it succeeded (with MPI's default
// MPI_ERRORS_ARE_FATAL handler a failing call ends the job first; this covers a handler the program changed).
void check(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  fail("nn::distributed", std::string(call) + " failed: " + std::string(text, static_cast<size_t>(length)));
}

// The largest count one MPI call moves (MPI counts are int).
constexpr int64_t kMaxCount = int64_t{1} << 30;

}  // namespace

Context::Context(int& argc, char**& argv) {
  int initialised = 0;
  MPI_Initialized(&initialised);
  if (!initialised) {
    int provided = 0;
    check(MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    owns_ = true;
    if (provided < MPI_THREAD_FUNNELED)
      fail_expected("nn::distributed::Context", "MPI_THREAD_FUNNELED", "thread level " + std::to_string(provided));
  }
  rank_ = distributed::rank();
  size_ = distributed::size();
}

Context::~Context() {
  if (owns_ && std::uncaught_exceptions() == 0) MPI_Finalize();
}

int rank() {
  int r = 0;
  check(MPI_Comm_rank(MPI_COMM_WORLD, &r), "MPI_Comm_rank");
  return r;
}

int size() {
  int n = 1;
  check(MPI_Comm_size(MPI_COMM_WORLD, &n), "MPI_Comm_size");
  return n;
}

void sum(std::vector<double>& values) {
  check(
      MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD),
      "MPI_Allreduce");
}

void broadcast(Module& module, int root) {
  NamedTensors tensors = module.named_parameters();
  for (auto& entry : module.named_buffers()) tensors.push_back(entry);
  int64_t total = 0;
  for (const auto& [name, t] : tensors) {
    if (t.dtype() != DType::f32)
      fail_expected("nn::distributed::broadcast", "float32 tensors", "'" + name + "' of another dtype");
    total += t.numel();
  }
  // The same model everywhere: compare the counts (min and max over the processes) before moving any value.
  int64_t range[2] = {-total, total};
  check(MPI_Allreduce(MPI_IN_PLACE, range, 2, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD), "MPI_Allreduce");
  if (-range[0] != range[1]) {
    fail("nn::distributed::broadcast", "the processes' models differ: between " + std::to_string(-range[0]) + " and " +
                                           std::to_string(range[1]) + " values (rank " + std::to_string(rank()) + ": " +
                                           std::to_string(total) + ")");
  }
  for (auto& [name, t] : tensors) {  // each tensor in place, in pieces MPI's int count can hold
    for (int64_t first = 0; first < t.numel(); first += kMaxCount) {
      const int count = static_cast<int>(std::min(kMaxCount, t.numel() - first));
      check(MPI_Bcast(t.data() + first, count, MPI_FLOAT, root, MPI_COMM_WORLD), "MPI_Bcast");
    }
  }
}

GradientReducer::GradientReducer(ReducerOptions options) : options_(options) {
  if (options_.bucket_bytes < 4)
    fail_expected("nn::distributed::GradientReducer", "bucket_bytes ≥ 4", std::to_string(options_.bucket_bytes));
}

std::pair<double, double> GradientReducer::average(const std::vector<Tensor>& parameters, double loss, double items) {
  std::vector<double> totals{loss * items, items};  // the global batch's count first: it weighs every gradient
  sum(totals);
  if (!(totals[1] > 0))
    fail_expected("nn::distributed::GradientReducer", "a positive number of items in the global batch",
                  std::to_string(totals[1]));
  const float weight = static_cast<float>(items / totals[1]);

  // The buckets: parameters in reverse order (as backward finishes them), filled to bucket_bytes.
  std::vector<Tensor> grads;
  std::vector<std::pair<size_t, size_t>> ranges;  // [first, end) of grads per bucket
  const int64_t bucket_floats = std::max<int64_t>(1, options_.bucket_bytes / 4);
  int64_t filled = bucket_floats;
  for (auto p = parameters.rbegin(); p != parameters.rend(); ++p) {
    if (!p->grad().defined()) p->backward(Tensor::zeros(p->shape()));  // a parameter backward did not reach
    Tensor g = p->grad();
    if (g.dtype() != DType::f32)
      fail_expected("nn::distributed::GradientReducer", "float32 gradients", "another dtype");
    if (filled + g.numel() > bucket_floats && filled > 0) {
      ranges.emplace_back(grads.size(), grads.size());
      filled = 0;
    }
    grads.push_back(g);
    ranges.back().second = grads.size();
    filled += g.numel();
  }
  buckets_.resize(ranges.size());

  // Pack bucket k (its gradients scaled by items / Σ items) and start its reduction, then the next.
  const Backend& backend = cpu_backend();
  std::vector<MPI_Request> requests(ranges.size(), MPI_REQUEST_NULL);
  for (size_t k = 0; k < ranges.size(); ++k) {
    int64_t n = 0;
    for (size_t i = ranges[k].first; i < ranges[k].second; ++i) n += grads[i].numel();
    if (n > kMaxCount) fail("nn::distributed::GradientReducer", "a gradient of more than 2^30 values");
    buckets_[k].resize(static_cast<size_t>(n));
    float* out = buckets_[k].data();
    backend.fill(DType::f32, n, 0.0f, out);
    for (size_t i = ranges[k].first; i < ranges[k].second; ++i) {
      backend.axpy(grads[i].numel(), weight, grads[i].data(), out);
      out += grads[i].numel();
    }
    check(MPI_Iallreduce(MPI_IN_PLACE, buckets_[k].data(), static_cast<int>(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD,
                         &requests[k]),
          "MPI_Iallreduce");
  }
  // Wait for each bucket in order and unpack it into the gradients.
  for (size_t k = 0; k < ranges.size(); ++k) {
    check(MPI_Wait(&requests[k], MPI_STATUS_IGNORE), "MPI_Wait");
    const float* in = buckets_[k].data();
    for (size_t i = ranges[k].first; i < ranges[k].second; ++i) {
      backend.copy(DType::f32, grads[i].numel(), in, grads[i].data());
      in += grads[i].numel();
    }
  }
  return {totals[0] / totals[1], totals[1]};
}

DataParallel::DataParallel(ReducerOptions options)
    : rank_(distributed::rank()), size_(distributed::size()), reducer_(options) {}

bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (std::getenv(name) != nullptr) return true;
  return false;
}

Job::Job(int& argc, char**& argv) {
  if (!launched_by_mpi()) return;
  context_.emplace(argc, argv);
  if (context_->size() > 1) parallel_.emplace();
}

void Job::barrier() {
  if (!context_) return;
  // Polled with sleeps rather than MPI_Barrier, which spins: ranks waiting for rank 0's long work (writing a
  // dataset) would take the cores it runs on.
  MPI_Request request = MPI_REQUEST_NULL;
  check(MPI_Ibarrier(MPI_COMM_WORLD, &request), "MPI_Ibarrier");
  for (int done = 0;;) {
    check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test");
    if (done) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

int Job::end(int status) {
  if (status != 0 && size() > 1) MPI_Abort(MPI_COMM_WORLD, status);
  return status;
}

}  // namespace nn::distributed
