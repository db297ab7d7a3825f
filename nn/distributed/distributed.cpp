#include "nn/distributed/distributed.h"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <string>
#include <thread>
#include <unordered_map>

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

// The state of one average between begin and finish.
struct GradientReducer::Pass {
  std::vector<Tensor> order;                      // the parameters in reverse registration order
  std::vector<std::pair<size_t, size_t>> ranges;  // [first, end) of order per bucket
  std::vector<size_t> bucket_of, missing;         // each parameter's bucket; the gradients a bucket still awaits
  std::vector<bool> done;                         // order[i]'s gradient is complete
  std::unordered_map<const void*, size_t> index;  // a parameter's TensorImpl → its place in order
  std::vector<MPI_Request> requests;
  size_t next = 0;        // the next bucket to start
  double totals[2] = {};  // Σ loss·items, Σ items
  float weight = 0;       // items / Σ items
  std::optional<LeafGradientHook> hook;
};

GradientReducer::GradientReducer(ReducerOptions options) : options_(options) {
  if (options_.bucket_bytes < 4)
    fail_expected("nn::distributed::GradientReducer", "bucket_bytes ≥ 4", std::to_string(options_.bucket_bytes));
}

GradientReducer::~GradientReducer() = default;

std::pair<double, double> GradientReducer::average(const std::vector<Tensor>& parameters, double loss, double items) {
  begin(parameters, loss, items);
  return finish();
}

void GradientReducer::begin(const std::vector<Tensor>& parameters, double loss, double items) {
  pass_ = std::make_unique<Pass>();
  Pass& p = *pass_;
  std::vector<double> totals{loss * items, items};  // the global batch's count first: it weighs every gradient
  sum(totals);
  if (!(totals[1] > 0))
    fail_expected("nn::distributed::GradientReducer", "a positive number of items in the global batch",
                  std::to_string(totals[1]));
  p.totals[0] = totals[0], p.totals[1] = totals[1];
  p.weight = static_cast<float>(items / totals[1]);

  // The buckets: parameters in reverse order (about the order backward finishes them), filled to bucket_bytes.
  const int64_t bucket_floats = std::max<int64_t>(1, options_.bucket_bytes / 4);
  int64_t filled = bucket_floats;
  for (auto it = parameters.rbegin(); it != parameters.rend(); ++it) {
    if (filled + it->numel() > bucket_floats && filled > 0) {
      p.ranges.emplace_back(p.order.size(), p.order.size());
      filled = 0;
    }
    p.index.emplace(it->impl().get(), p.order.size());
    p.bucket_of.push_back(p.ranges.size() - 1);
    p.order.push_back(*it);
    p.ranges.back().second = p.order.size();
    filled += it->numel();
  }
  p.done.assign(p.order.size(), false);
  for (const auto& [first, end] : p.ranges) p.missing.push_back(end - first);
  p.requests.assign(p.ranges.size(), MPI_REQUEST_NULL);
  buckets_.resize(p.ranges.size());
  p.hook.emplace([this](const Tensor& leaf) { gradient_ready(leaf); });
}

void GradientReducer::gradient_ready(const Tensor& leaf) {
  Pass& p = *pass_;
  const auto found = p.index.find(leaf.impl().get());
  if (found == p.index.end() || p.done[found->second]) return;  // not a parameter, or already counted
  p.done[found->second] = true;
  --p.missing[p.bucket_of[found->second]];
  while (p.next < p.ranges.size() && p.missing[p.next] == 0) start(p.next++);  // in bucket order on every process
  // Open MPI moves a nonblocking collective on only inside MPI calls: poll the started ones while backward goes on.
  for (size_t k = 0; k < p.next; ++k) {
    int complete = 0;
    if (p.requests[k] != MPI_REQUEST_NULL) check(MPI_Test(&p.requests[k], &complete, MPI_STATUS_IGNORE), "MPI_Test");
  }
}

// Bucket k: its gradients scaled by items / Σ items (the backend's fill + axpy, no new loop; an undefined gradient
// counts as zeros), then its reduction started.
void GradientReducer::start(size_t k) {
  Pass& p = *pass_;
  int64_t n = 0;
  for (size_t i = p.ranges[k].first; i < p.ranges[k].second; ++i) n += p.order[i].numel();
  if (n > kMaxCount) fail("nn::distributed::GradientReducer", "a gradient of more than 2^30 values");
  buckets_[k].resize(static_cast<size_t>(n));
  float* out = buckets_[k].data();
  const Backend& backend = cpu_backend();
  backend.fill(DType::f32, n, 0.0f, out);
  for (size_t i = p.ranges[k].first; i < p.ranges[k].second; ++i) {
    const Tensor g = p.order[i].grad();
    if (g.defined()) {
      if (g.dtype() != DType::f32)
        fail_expected("nn::distributed::GradientReducer", "float32 gradients", "another dtype");
      backend.axpy(g.numel(), p.weight, g.data(), out);
    }
    out += p.order[i].numel();
  }
  check(MPI_Iallreduce(MPI_IN_PLACE, buckets_[k].data(), static_cast<int>(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD,
                       &p.requests[k]),
        "MPI_Iallreduce");
}

std::pair<double, double> GradientReducer::finish() {
  if (!pass_) fail("nn::distributed::GradientReducer", "finish without begin");
  Pass& p = *pass_;
  p.hook.reset();  // backward is over
  early_ = p.next;
  while (p.next < p.ranges.size()) start(p.next++);
  // Wait for each bucket in order and unpack it into the gradients.
  const Backend& backend = cpu_backend();
  for (size_t k = 0; k < p.ranges.size(); ++k) {
    check(MPI_Wait(&p.requests[k], MPI_STATUS_IGNORE), "MPI_Wait");
    const float* in = buckets_[k].data();
    for (size_t i = p.ranges[k].first; i < p.ranges[k].second; ++i) {
      Tensor& t = p.order[i];
      if (!t.grad().defined()) t.backward(Tensor::zeros(t.shape()));  // a parameter backward did not reach
      backend.copy(DType::f32, t.numel(), in, t.grad().data());
      in += t.numel();
    }
  }
  const std::pair<double, double> result{p.totals[0] / p.totals[1], p.totals[1]};
  pass_.reset();
  return result;
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
