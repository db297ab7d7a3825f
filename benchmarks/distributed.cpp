// Data-parallel training on MPI (nn::distributed): the gradient all-reduce's bandwidth for the sizes of the caption
// decoder (about 5 M parameters) and Xception (20,861,480), with 25 MB buckets and with one bucket, and the time of
// one training step of the caption decoder at a global batch of 64, split over the ranks. Run it under mpirun:
//
//   NN_NUM_THREADS=2 mpirun -np 1 build/benchmarks/distributed    # 1 rank × 2 threads
//   NN_NUM_THREADS=1 mpirun -np 2 build/benchmarks/distributed    # 2 ranks × 1 thread
//
// Every rank runs the same fixed repetitions (a rank that timed more would wait forever in a reduction); a
// repetition's time is the slowest rank's, and the figure the fastest repetition's. Bandwidth: algorithm GB/s =
// gradient bytes / time; bus GB/s = that × 2(N−1)/N, what a ring all-reduce moves per rank (comparable across N).
#include <mpi.h>

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
    nn::distributed::GradientReducer reducer;
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
    double reduce_seconds = 0;
    auto step = [&](bool reduce) {
      adam.zero_grad();
      nn::Tensor loss = nn::softmax_cross_entropy(model.forward(features, inputs), targets, mask);
      loss.backward();
      if (reduce) {
        const double start = MPI_Wtime();
        reducer.average(params, loss.item(), static_cast<double>(local * words));
        reduce_seconds = MPI_Wtime() - start;
      }
      adam.step();
    };
    const double with = time_reps([&] { step(true); }, 5);
    const double alone = time_reps([&] { step(false); }, 5);
    if (root) {
      std::printf(
          "decoder step, %.2f M parameters, global batch 64 (%lld per rank): %.1f ms with the all-reduce "
          "(%.1f ms of it, %zu bucket(s)), %.1f ms without\n",
          static_cast<double>(count) / 1e6, static_cast<long long>(local), 1e3 * with, 1e3 * reduce_seconds,
          reducer.buckets(), 1e3 * alone);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "distributed: %s\n", e.what());
    return 1;
  }
}
