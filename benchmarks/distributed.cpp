// Data-parallel training on MPI (nn::distributed): the gradient all-reduce's bandwidth for the sizes of the caption
// decoder (about 5 M parameters) and Xception (20,861,480), with 25 MB buckets and with one bucket, and the time of
// one training step of the caption decoder at a global batch of 64, split over the ranks: without the all-reduce,
// with it after backward, and overlapped with backward (GradientReducer::begin before it: each bucket starts as soon
// as the autograd has completed its gradients), in 25 MB buckets and in 2 MB ones. Run it under mpirun:
//
//   NN_NUM_THREADS=2 mpirun -np 1 build/benchmarks/distributed    # 1 rank × 2 threads
//   NN_NUM_THREADS=1 mpirun -np 2 build/benchmarks/distributed    # 2 ranks × 1 thread
//
// Every rank runs the same fixed repetitions (a rank that timed more would wait forever in a reduction); a
// repetition's time is the slowest rank's, and the figure the fastest repetition's. Bandwidth: algorithm GB/s =
// gradient bytes / time; bus GB/s = that × 2(N−1)/N, what a ring all-reduce moves per rank (comparable across N).
#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <captioning/model.h>
#include <captioning/trainer.h>
#include <nn/core/threads.h>
#include <nn/distributed/distributed.h>
#include <nn/ops/ops.h>
#include <nn/optim/adam.h>

namespace {

// The fastest of `reps` runs of f (after one warm-up), each timed as the slowest rank's.
double time_reps(const std::function<void()>& f, int reps) {
  f();
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    MPI_Barrier(MPI_COMM_WORLD);
    const double start = MPI_Wtime();
    f();
    double t = MPI_Wtime() - start;
    MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    best = std::min(best, t);
  }
  return best;
}

// One run of f, timed as the slowest rank's.
double time_once(const std::function<void()>& f) {
  MPI_Barrier(MPI_COMM_WORLD);
  const double start = MPI_Wtime();
  f();
  double t = MPI_Wtime() - start;
  MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return t;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Parameters of `total` floats in tensors of at most 1 M, with gradients, as a model's would be.
std::vector<nn::Tensor> gradients_of(int64_t total) {
  std::vector<nn::Tensor> params;
  for (int64_t left = total; left > 0; left -= 1 << 20) {
    nn::Tensor p = nn::Tensor::zeros({std::min<int64_t>(left, 1 << 20)});
    p.set_requires_grad();
    p.backward(nn::Tensor::full(p.shape(), 0.5f));
    params.push_back(p);
  }
  return params;
}

void all_reduce_row(const char* what, int64_t floats, int64_t bucket_bytes, int ranks, bool root) {
  std::vector<nn::Tensor> params = gradients_of(floats);
  nn::distributed::GradientReducer reducer({.bucket_bytes = bucket_bytes});
  const double t = time_reps([&] { reducer.average(params, 1.0, 32.0); }, 5);
  const double gb = 4.0 * static_cast<double>(floats) / 1e9;
  if (root) {
    std::printf("all-reduce %-22s %6.2f M floats  %3zu bucket(s)  %8.2f ms  %6.2f GB/s algorithm  %6.2f GB/s bus\n",
                what, static_cast<double>(floats) / 1e6, reducer.buckets(), 1e3 * t, gb / t,
                gb / t * 2.0 * (ranks - 1) / ranks);
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    nn::distributed::Context mpi(argc, argv);
    const bool root = mpi.rank() == 0;
    if (root) std::printf("ranks %d, threads per rank %d\n", mpi.size(), nn::num_threads());
    const int64_t mb25 = 25 << 20, one = int64_t{1} << 40;
    all_reduce_row("decoder, 25 MB buckets", 5'000'000, mb25, mpi.size(), root);
    all_reduce_row("decoder, one bucket", 5'000'000, one, mpi.size(), root);
    all_reduce_row("Xception, 25 MB buckets", 20'861'480, mb25, mpi.size(), root);
    all_reduce_row("Xception, one bucket", 20'861'480, one, mpi.size(), root);

    // One step of the Flickr8k-sized caption decoder (vocabulary 7,579, features 2048, units 256) at a global batch
    // of 64 captions of 12 words, split over the ranks.
    captioning::CaptionModel model({.vocab = 7579, .feature_dim = 2048, .units = 256, .dropout = 0.0f});
    nn::distributed::broadcast(model);
    nn::Adam adam(model.named_parameters(), {.lr = 1e-4f});
    std::vector<nn::Tensor> params;
    int64_t count = 0;
    for (const auto& [name, p] : model.named_parameters()) params.push_back(p), count += p.numel();
    const int64_t local = 64 / mpi.size(), words = 12;
    nn::Generator gen(static_cast<uint64_t>(mpi.rank()) + 1);
    nn::Tensor features = nn::Tensor::normal({local, 2048}, 0.0f, 1.0f, gen);
    std::vector<int32_t> ids(static_cast<size_t>(local * words));
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(1 + (i * 7919) % 7578);
    const nn::Indices inputs{{local, words}, ids}, targets{{local, words}, ids};
    const nn::Tensor mask = nn::Tensor::ones({local, words});
    enum class Reduce { none, after, overlapped };
    auto step = [&](nn::distributed::GradientReducer& reducer, Reduce reduce) {
      adam.zero_grad();
      nn::Tensor loss = nn::softmax_cross_entropy(model.forward(features, inputs), targets, mask);
      const double items = static_cast<double>(local * words);
      if (reduce == Reduce::overlapped) reducer.begin(params, loss.item(), items);
      loss.backward();
      if (reduce == Reduce::overlapped) reducer.finish();
      if (reduce == Reduce::after) reducer.average(params, loss.item(), items);
      adam.step();
    };
    nn::distributed::GradientReducer unused;
    const double alone = time_reps([&] { step(unused, Reduce::none); }, 5);
    if (root) {
      std::printf("decoder step, %.2f M parameters, global batch 64 (%lld per rank): %.1f ms without the all-reduce\n",
                  static_cast<double>(count) / 1e6, static_cast<long long>(local), 1e3 * alone);
    }
    // After backward against overlapped, interleaved (on a shared machine the load drifts between runs): the
    // medians of 15 steps each and the median of the 15 differences.
    for (const int64_t bucket_bytes : {mb25, int64_t{2} << 20}) {
      nn::distributed::GradientReducer reducer({.bucket_bytes = bucket_bytes});
      step(reducer, Reduce::overlapped);
      std::vector<double> after, overlapped, gain;
      for (int rep = 0; rep < 15; ++rep) {
        after.push_back(time_once([&] { step(reducer, Reduce::after); }));
        overlapped.push_back(time_once([&] { step(reducer, Reduce::overlapped); }));
        gain.push_back(after.back() - overlapped.back());
      }
      if (root) {
        std::printf(
            "  %2lld MB buckets (%zu): median %.1f ms with the all-reduce after backward, %.1f ms overlapped "
            "(%zu bucket(s) started during backward); median gain %.1f ms\n",
            static_cast<long long>(bucket_bytes >> 20), reducer.buckets(), 1e3 * median(after),
            1e3 * median(overlapped), reducer.started_during_backward(), 1e3 * median(gain));
      }
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "distributed: %s\n", e.what());
    return 1;
  }
}
