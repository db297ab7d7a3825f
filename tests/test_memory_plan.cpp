// nn::MemoryPlan: a recorded run's requests served from one arena in later runs — bytes shared only by requests
// that are never live together, nothing allocated after the first run, and never a byte handed out twice when a
// later run differs from the record (another order, a block kept longer, a block kept past the run).
#include <algorithm>
#include <string>
#include <thread>

#include <nn/core/allocator.h>
#include <nn/models/xception.h>
#include <nn/ops/ops.h>

#include "support/check.h"
#include "support/files.h"

using nn::Tensor;

namespace {

constexpr int64_t kMB = 1 << 18;  // floats in 1 MiB

// The recorded pattern: A (1 MiB) and B (2 MiB) live together; A released, then C (1 MiB), which may take A's
// bytes; B and C released; D (1 MiB) returned, outliving the run.
// a_at / c_at: where A and C were (their addresses only: keeping them would change the pattern).
Tensor run(Tensor* keep_b = nullptr, bool hold_a = false, const float** a_at = nullptr, const float** c_at = nullptr) {
  Tensor a = Tensor::empty({kMB});
  Tensor b = Tensor::empty({2 * kMB});
  std::fill(a.data(), a.data() + kMB, 1.0f);
  std::fill(b.data(), b.data() + 2 * kMB, 2.0f);
  Tensor held;
  if (hold_a) held = a;  // A stays live while C is asked for: C must not get A's bytes
  if (a_at) *a_at = a.data();
  a = Tensor();
  Tensor c = Tensor::empty({kMB});
  std::fill(c.data(), c.data() + kMB, 3.0f);
  if (c_at) *c_at = c.data();
  if (keep_b) *keep_b = b;
  Tensor d = Tensor::empty({kMB});
  std::fill(d.data(), d.data() + kMB, 4.0f);
  if (hold_a) CHECK(held.data()[kMB - 1] == 1.0f);  // C did not overwrite A
  return d;
}

}  // namespace

TEST_CASE("a memory plan serves a repeated run from one arena, sharing bytes only between lifetimes apart") {
  nn::MemoryPlan plan;
  Tensor recorded_d;
  nn::empty_allocator_cache();
  {
    nn::MemoryPlanScope scope(plan);
    recorded_d = run();  // D kept past the run, as the runs below keep it
  }
  REQUIRE(plan.recorded());
  // The blocks the recorded run left in the cache went back to the system when the arena took their place.
  CHECK(nn::allocator_stats().cached_bytes == 0);
  recorded_d = Tensor();        // used: its block is the cache's for the next run's D
  CHECK(plan.requests() == 3);  // A, B, C; D outlived the run
  // A and C are never live together, so they share 1 MiB; B needs its own 2 MiB: 3 MiB, not 4.
  CHECK(plan.arena_bytes() == size_t{3} << 20);
  const float *a = nullptr, *c = nullptr;
  for (int again = 0; again < 3; ++again) {
    const nn::AllocatorStats before = nn::allocator_stats();
    Tensor d;
    {
      nn::MemoryPlanScope scope(plan);
      d = run(nullptr, false, &a, &c);
    }
    const nn::AllocatorStats after = nn::allocator_stats();
    CHECK(after.misses == before.misses);  // nothing new from the system
    CHECK(after.planned == before.planned + 3);
    CHECK(after.hits == before.hits + 1);  // D, from the cache
    CHECK(a == c);                         // A's bytes, then C's
    CHECK(d.data()[kMB - 1] == 4.0f);
  }
}

TEST_CASE("a later run that differs from the record never gets bytes that are still in use") {
  nn::MemoryPlan plan;
  {
    nn::MemoryPlanScope scope(plan);
    Tensor d = run();  // D dropped within the recorded run: planned, until a run keeps it
  }
  CHECK(plan.requests() == 4);
  // D kept past the run: its bytes stay D's (the arena is left to it), and D is the cache's from then on; the run
  // after takes a new arena and a block for its D (the last D is still held), and the next nothing new.
  Tensor d;
  {
    nn::MemoryPlanScope scope(plan);
    d = run();
  }
  CHECK(plan.requests() == 3);
  for (size_t new_blocks : {2, 0}) {
    const nn::AllocatorStats before = nn::allocator_stats();
    Tensor other;
    {
      nn::MemoryPlanScope scope(plan);
      other = run();
    }
    CHECK(other.data() != d.data());
    CHECK(nn::allocator_stats().misses - before.misses == new_blocks);
  }
  CHECK(std::all_of(d.data(), d.data() + kMB, [](float v) { return v == 4.0f; }));
  // A still held when C is asked for: C comes from the cache (run() checks that A keeps its values).
  const float *a = nullptr, *c = nullptr;
  {
    nn::MemoryPlanScope scope(plan);
    run(nullptr, true, &a, &c);
  }
  CHECK(a != c);
  // B kept past the run: its bytes are never handed out again, even by the plan's next runs.
  Tensor b;
  {
    nn::MemoryPlanScope scope(plan);
    run(&b);
  }
  for (int again = 0; again < 2; ++again) {
    nn::MemoryPlanScope scope(plan);
    Tensor other_b;
    run(&other_b);
    CHECK(other_b.data() != b.data());
  }
  CHECK(std::all_of(b.data(), b.data() + 2 * kMB, [](float v) { return v == 2.0f; }));
  // Another pattern (a different size first): served by the cache from there on; the plan still serves the next run.
  {
    nn::MemoryPlanScope scope(plan);
    Tensor odd = Tensor::empty({3 * kMB});
    run();
  }
  const nn::AllocatorStats before = nn::allocator_stats();
  {
    nn::MemoryPlanScope scope(plan);
    run();
  }
  CHECK(nn::allocator_stats().planned == before.planned + plan.requests());
  CHECK(plan.requests() == 2);  // A and C: B became the cache's when a run kept it
  nn::MemoryPlanScope scope(plan);
  CHECK(test::error_of([&] { nn::MemoryPlanScope nested(plan); }) ==
        "MemoryPlanScope: a memory plan is already active on this thread");
  std::string other_thread;
  std::thread([&] { other_thread = test::error_of([&] { nn::MemoryPlanScope second(plan); }); }).join();
  CHECK(other_thread == "MemoryPlanScope: the memory plan is in use on another thread (one plan per thread)");
}

TEST_CASE("Xception under a memory plan: nothing allocated after the first image, the same features") {
  nn::Generator gen(4);
  nn::Xception model({.width = 1.0f / 8, .middle_blocks = 2}, gen);
  model.eval();
  std::shared_ptr<nn::Xception> folded = model.folded();
  nn::NoGradGuard no_grad;
  Tensor x = Tensor::uniform({1, 299, 299, 3}, -1, 1, gen), y = Tensor::uniform({1, 299, 299, 3}, -1, 1, gen);
  const Tensor expected_x = (*folded)(x), expected_y = (*folded)(y);  // without a plan
  nn::MemoryPlan plan;
  Tensor first;
  {
    nn::MemoryPlanScope scope(plan);
    first = (*folded)(x);  // the features outlive the run, as in every run below
  }
  CHECK(first.to_vector() == expected_x.to_vector());
  first = Tensor();  // used, as a program uses each image's features before the next image
  INFO("arena " << plan.arena_bytes() << " bytes for " << plan.requests() << " requests");
  CHECK(plan.requests() > 50);
  for (const Tensor* image : {&y, &x, &y}) {
    const nn::AllocatorStats before = nn::allocator_stats();
    Tensor features;
    {
      nn::MemoryPlanScope scope(plan);
      features = (*folded)(*image);
    }
    const nn::AllocatorStats after = nn::allocator_stats();
    CHECK(after.misses == before.misses);
    CHECK(after.planned - before.planned == plan.requests());
    CHECK(features.to_vector() == (image == &x ? expected_x : expected_y).to_vector());
  }
}
