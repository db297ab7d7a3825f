#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <thread>

#include "support/check.h"

using nn::Tensor;

TEST_CASE("creation helpers fill the right values") {
  CHECK(Tensor::zeros({2, 3}).to_vector() == std::vector<float>(6, 0.0f));
  CHECK(Tensor::ones({4}).to_vector() == std::vector<float>(4, 1.0f));
  CHECK(Tensor::full({2, 2}, 2.5f).to_vector() == std::vector<float>(4, 2.5f));
  Tensor s = Tensor::scalar(3.0f);
  CHECK(s.rank() == 0);
  CHECK(s.item() == 3.0f);
  Tensor d = Tensor::from_data({2, 3}, {1, 2, 3, 4, 5, 6});
  CHECK(d.at({1, 2}) == 6.0f);
  CHECK(d.at({0, 1}) == 2.0f);
  CHECK(d.dim(-1) == 3);
  CHECK(d.numel() == 6);
}

TEST_CASE("random creation is seeded and has the requested range and moments") {
  nn::Generator a(42), b(42), c(43);
  Tensor u1 = Tensor::uniform({1000}, -2.0f, 3.0f, a);
  Tensor u2 = Tensor::uniform({1000}, -2.0f, 3.0f, b);
  Tensor u3 = Tensor::uniform({1000}, -2.0f, 3.0f, c);
  CHECK(u1.to_vector() == u2.to_vector());
  CHECK(u1.to_vector() != u3.to_vector());
  for (float v : u1.to_vector()) {
    CHECK(v >= -2.0f);
    CHECK(v < 3.0f);
  }
  nn::Generator g(5);
  Tensor n = Tensor::normal({20000}, 1.0f, 2.0f, g);
  double mean = 0, sq = 0;
  for (float v : n.to_vector()) mean += v;
  mean /= n.numel();
  for (float v : n.to_vector()) sq += (v - mean) * (v - mean);
  CHECK(mean == doctest::Approx(1.0).epsilon(0.05));
  CHECK(std::sqrt(sq / n.numel()) == doctest::Approx(2.0).epsilon(0.03));
  // below(n): every value in [0, n) drawn, nothing outside; n = 0 (an empty range) is an error, not a division by 0.
  std::vector<int> seen(7, 0);
  for (int i = 0; i < 700; ++i) {
    const uint64_t v = g.below(7);
    REQUIRE(v < 7);
    ++seen[v];
  }
  CHECK(std::count(seen.begin(), seen.end(), 0) == 0);
  CHECK_THROWS_WITH_AS(g.below(0), "Generator::below: expected n >= 1, got 0", nn::Error);
  // fill_uniform(out, n) is the stream of n calls of uniform(), and leaves the generator where they would (dropout's
  // masks and every later draw depend on it).
  nn::Generator one_by_one(8), in_bulk(8);
  std::vector<float> expected(1000), bulk(1000);
  for (float& v : expected) v = one_by_one.uniform();
  in_bulk.fill_uniform(bulk.data(), static_cast<int64_t>(bulk.size()));
  CHECK(bulk == expected);
  CHECK(in_bulk.uniform() == one_by_one.uniform());
}

TEST_CASE("reshape is a view over the same storage; -1 is inferred") {
  Tensor t = Tensor::from_data({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor v = t.reshape({3, -1});
  CHECK(v.shape() == nn::Shape{3, 2});
  v.data()[0] = 9.0f;
  CHECK(t.at({0, 0}) == 9.0f);
  CHECK_THROWS_WITH_AS(t.reshape({4, 2}), "reshape: expected a shape of 6 elements (from [2,3]), got [4,2]", nn::Error);
}

TEST_CASE("copies of a Tensor share data; clone does not") {
  Tensor t = Tensor::zeros({3});
  Tensor alias = t;
  Tensor copy = t.clone();
  alias.data()[1] = 5.0f;
  CHECK(t.at({1}) == 5.0f);
  CHECK(copy.at({1}) == 0.0f);
}

TEST_CASE("errors name the operation, what was expected and what arrived") {
  CHECK_THROWS_WITH_AS(Tensor::from_data({2, 2}, {1, 2, 3}),
                       "Tensor::from_data: expected 4 values for shape [2,2], got 3", nn::Error);
  Tensor t = Tensor::zeros({2, 3});
  CHECK_THROWS_WITH_AS(t.at({2, 0}), "Tensor::at: expected index 0 in [0,2), got 2", nn::Error);
  CHECK_THROWS_WITH_AS(t.item(), "Tensor::item: expected a one-element tensor, got shape [2,3]", nn::Error);
  CHECK_THROWS_WITH_AS(Tensor().shape(), "Tensor: used an undefined tensor", nn::Error);
  CHECK_THROWS_WITH_AS(Tensor::zeros({2, -1}), "shape: expected non-negative extents, got [2,-1]", nn::Error);
  CHECK_THROWS_WITH_AS(nn::Indices({2}, {1, 2, 3}), "Indices: expected 2 values for shape [2], got 3", nn::Error);
  CHECK_THROWS_WITH_AS(t.dim(2), "Tensor::dim: expected an axis in [-2,1], got 2", nn::Error);
}

TEST_CASE("printing shows the shape, the values and summarises long axes") {
  Tensor t = Tensor::from_data({2, 3}, {1, 2, 3, 4, 5, 6.5f});
  std::ostringstream os;
  os << t;
  CHECK(os.str() == "Tensor[2,3]\n[[1, 2, 3],\n [4, 5, 6.5]]");
  Tensor longer = Tensor::zeros({20});
  longer.data()[19] = 7;
  CHECK(longer.to_string() == "Tensor[20]\n[0, 0, 0, ..., 0, 0, 7]");
  CHECK(Tensor::scalar(2).set_requires_grad().to_string() == "Tensor[] requires_grad\n2");
}

TEST_CASE("the caching allocator hands freed blocks out again") {
  nn::empty_allocator_cache();
  { Tensor a = Tensor::empty({1000, 1000}); }
  nn::AllocatorStats before = nn::allocator_stats();
  CHECK(before.cached_bytes >= 4000000);
  { Tensor b = Tensor::empty({1000, 1000}); }
  nn::AllocatorStats after = nn::allocator_stats();
  CHECK(after.hits == before.hits + 1);
  CHECK(after.misses == before.misses);
  nn::empty_allocator_cache();
  CHECK(nn::allocator_stats().cached_bytes == 0);
}

TEST_CASE("the allocator's cache limit is read back as set, and blocks beyond it are freed at once") {
  const size_t before = nn::allocator_cache_limit();
  nn::set_allocator_cache_limit(size_t{1} << 20);  // 1 MB
  CHECK(nn::allocator_cache_limit() == size_t{1} << 20);
  { Tensor a = Tensor::empty({1000, 1000}); }  // 4 MB: over the limit, not kept
  CHECK(nn::allocator_stats().cached_bytes <= size_t{1} << 20);
  nn::set_allocator_cache_limit(before);
  CHECK(nn::allocator_cache_limit() == before);
}

TEST_CASE("the thread count is set in one place and checked") {
  int previous = nn::num_threads();
  nn::set_num_threads(1);
  CHECK(nn::num_threads() == 1);
  nn::set_num_threads(previous);
  CHECK_THROWS_WITH_AS(nn::set_num_threads(0), "set_num_threads: expected a thread count of at least 1, got 0",
                       nn::Error);
}

// The team a parallel region of libnn work on this thread would start.
int team_size_after_libnn_work() {
  nn::Tensor t = nn::Tensor::zeros({4});  // any allocation applies the count to the calling thread
  int size = 0;
#pragma omp parallel
  {
#pragma omp single
    size = omp_get_num_threads();
  }
  return size;
}

TEST_CASE("the thread count applies to every thread, not only to the one that set it") {
  const int previous = nn::num_threads();
  omp_set_num_threads(3);  // a stray setting of this thread, which libnn's count overrides
  nn::set_num_threads(1);
  int in_worker = -1, in_worker_after_change = -1, scoped = -1, after_scope = -1;
  std::thread worker([&] {  // a thread started afterwards, like a server's worker (its OpenMP default: all cores)
    in_worker = team_size_after_libnn_work();
    {
      nn::ThreadCountScope own(2);
      scoped = team_size_after_libnn_work();
    }
    after_scope = team_size_after_libnn_work();
  });
  worker.join();
  CHECK(in_worker == 1);
  CHECK(scoped == 2);
  CHECK(after_scope == 1);
  CHECK(team_size_after_libnn_work() == 1);
  // A change reaches a thread that has already run libnn work, at its next allocation.
  std::thread long_lived([&] {
    team_size_after_libnn_work();
    std::thread setter([] { nn::set_num_threads(2); });
    setter.join();
    in_worker_after_change = team_size_after_libnn_work();
  });
  long_lived.join();
  CHECK(in_worker_after_change == 2);
  CHECK_THROWS_WITH_AS(nn::ThreadCountScope(0), "ThreadCountScope: expected a thread count of at least 1, got 0",
                       nn::Error);
  nn::set_num_threads(previous);
}

TEST_CASE("broadcasting follows NumPy's rules") {
  CHECK(nn::broadcast_shapes({2, 1, 3}, {4, 1}, "t") == nn::Shape{2, 4, 3});
  CHECK(nn::broadcast_shapes({}, {3}, "t") == nn::Shape{3});
  CHECK_THROWS_WITH_AS(nn::broadcast_shapes({2, 3}, {4}, "add"),
                       "add: expected shapes that broadcast, got [2,3] and [4]", nn::Error);
}

TEST_CASE("randn, rand, arange and eye create what PyTorch's functions of those names do") {
  nn::Generator a(11), b(11);
  CHECK(Tensor::randn({50}, a).to_vector() == Tensor::randn({50}, b).to_vector());
  nn::Generator c(12), c2(12);
  CHECK(Tensor::randn({50}, c).to_vector() == Tensor::normal({50}, 0.0f, 1.0f, c2).to_vector());
  nn::manual_seed(3);
  Tensor first = Tensor::randn({8});
  nn::manual_seed(3);
  CHECK(Tensor::randn({8}).to_vector() == first.to_vector());
  nn::Generator d(5), e(5);
  Tensor r = Tensor::rand({2000}, d);
  CHECK(r.to_vector() == Tensor::uniform({2000}, 0.0f, 1.0f, e).to_vector());
  float low = 1, high = 0;
  for (float v : r.to_vector()) {
    low = std::min(low, v);
    high = std::max(high, v);
  }
  CHECK(low >= 0.0f);
  CHECK(high < 1.0f);
  CHECK(high > 0.99f);
  CHECK(Tensor::arange(5).to_vector() == std::vector<float>{0, 1, 2, 3, 4});
  CHECK(Tensor::arange(1, 2, 0.25f).to_vector() == std::vector<float>{1, 1.25f, 1.5f, 1.75f});
  CHECK(Tensor::arange(3, 0, -1).to_vector() == std::vector<float>{3, 2, 1});
  CHECK(Tensor::arange(2, 2).shape() == nn::Shape{0});
  CHECK(Tensor::eye(3).to_vector() == std::vector<float>{1, 0, 0, 0, 1, 0, 0, 0, 1});
  CHECK(Tensor::eye(2, 3).to_vector() == std::vector<float>{1, 0, 0, 0, 1, 0});
  CHECK_THROWS_WITH_AS(Tensor::arange(0, 3, -1),
                       "Tensor::arange: expected a non-zero step whose sign leads from start to end, got start "
                       "0.000000, end 3.000000, step -1.000000",
                       nn::Error);
  CHECK_THROWS_WITH_AS(Tensor::arange(0, 3, 0), doctest::Contains("Tensor::arange: expected a non-zero step"),
                       nn::Error);
}

TEST_CASE("the everyday ops name what they expected and the shapes they got") {
  Tensor x = Tensor::zeros({2, 3, 4});
  CHECK_THROWS_WITH_AS(nn::matmul(Tensor::zeros({4, 2, 3}), Tensor::zeros({4, 5, 6})),
                       "matmul: expected inner dimensions to agree, got 3 (a [4,2,3]) vs 5 (b [4,5,6])", nn::Error);
  CHECK_THROWS_WITH_AS(nn::matmul(Tensor::zeros({2, 2, 3}), Tensor::zeros({3, 3, 4})),
                       "matmul: expected batch dimensions that broadcast, got [2] (a [2,2,3]) and [3] (b [3,3,4])",
                       nn::Error);
  CHECK_THROWS_WITH_AS(nn::matmul(Tensor::zeros({3}), Tensor::zeros({3, 4})),
                       "matmul: expected two matrices or batches of matrices (rank ≥ 2), got a [3] and b [3,4]",
                       nn::Error);
  CHECK_THROWS_WITH_AS(nn::split(x, {1, 1}, 1),
                       "split: expected non-negative sizes adding up to 3 (axis 1 of [2,3,4]), got (1,1)", nn::Error);
  CHECK_THROWS_WITH_AS(nn::split(x, {4, -1}, 1),
                       "split: expected non-negative sizes adding up to 3 (axis 1 of [2,3,4]), got (4,-1)", nn::Error);
  CHECK_THROWS_WITH_AS(nn::permute(x, {0, 2, 0}), "permute: expected each axis of [2,3,4] once, got (0,2,0)",
                       nn::Error);
  CHECK_THROWS_WITH_AS(nn::permute(x, {1, 0}), "permute: expected 3 axes for [2,3,4], got (1,0)", nn::Error);
  CHECK_THROWS_WITH_AS(nn::permute(x, {0, 1, 3}), "permute: expected an axis in [-3,2], got 3", nn::Error);
  CHECK_THROWS_WITH_AS(nn::transpose(x, 0, 5), "transpose: expected an axis in [-3,2], got 5", nn::Error);
  CHECK_THROWS_WITH_AS(nn::squeeze(x, 1), "squeeze: expected extent 1 along axis 1, got [2,3,4]", nn::Error);
  CHECK_THROWS_WITH_AS(nn::unsqueeze(x, 4), "unsqueeze: expected an axis in [-4,3], got 4", nn::Error);
  CHECK_THROWS_WITH_AS(nn::stack({x, Tensor::zeros({2, 3, 5})}, 0),
                       "stack: expected tensors of one shape (tensor 0 is [2,3,4]), got tensor 1 [2,3,5]", nn::Error);
  CHECK_THROWS_WITH_AS(nn::stack({}, 0), "stack: expected at least one tensor, got none", nn::Error);
  CHECK_THROWS_WITH_AS(nn::where(Tensor::zeros({2, 1}), Tensor::zeros({3}), Tensor::zeros({4})),
                       "where: expected shapes that broadcast, got mask [2,1], a [3] and b [4]", nn::Error);
  CHECK_THROWS_WITH_AS(nn::maximum(x, Tensor::zeros({3})),
                       "maximum: expected shapes that broadcast, got [2,3,4] and [3]", nn::Error);
  CHECK_THROWS_WITH_AS(nn::lt(x, Tensor::zeros({2})), "lt: expected shapes that broadcast, got [2,3,4] and [2]",
                       nn::Error);
  CHECK_THROWS_WITH_AS(nn::pow(x, Tensor::zeros({5})), "pow: expected shapes that broadcast, got [2,3,4] and [5]",
                       nn::Error);
  CHECK_THROWS_WITH_AS(nn::clamp(x, 1.0f, -1.0f), "clamp: expected low ≤ high, got low 1.000000 and high -1.000000",
                       nn::Error);
  CHECK_THROWS_WITH_AS(nn::max(x, 3), "max: expected an axis in [-3,2], got 3", nn::Error);
  CHECK_THROWS_WITH_AS(nn::argmin(Tensor::zeros({2, 0}), 1), "argmin: expected a non-empty axis 1, got shape [2,0]",
                       nn::Error);
  CHECK_THROWS_WITH_AS(nn::log_softmax(x, -4), "log_softmax: expected an axis in [-3,2], got -4", nn::Error);
}

TEST_CASE("NaN propagates through clamp, minimum / maximum and max / argmax along an axis, as in PyTorch") {
  const float nan = std::nanf("");
  Tensor x = Tensor::from_data({2, 3}, {1, nan, 3, -1, -2, -3});
  std::vector<float> clamped = nn::clamp(x, -1.5f, 2.0f).to_vector();
  CHECK(clamped[0] == 1.0f);
  CHECK(std::isnan(clamped[1]));
  CHECK(clamped[2] == 2.0f);
  CHECK(clamped[4] == -1.5f);
  std::vector<float> larger = nn::maximum(x, Tensor::scalar(0.0f)).to_vector();
  CHECK(std::isnan(larger[1]));
  CHECK(larger[3] == 0.0f);
  CHECK(std::isnan(nn::minimum(Tensor::scalar(0.0f), x).to_vector()[1]));
  std::vector<float> row_max = nn::max(x, 1).to_vector();
  CHECK(std::isnan(row_max[0]));
  CHECK(row_max[1] == -1.0f);
  CHECK(nn::argmax(x, 1).to_vector() == std::vector<float>{1, 0});
  CHECK(nn::argmin(x, 1).to_vector() == std::vector<float>{1, 2});
}

// ---- dtypes, devices and views (issue 16) ----

TEST_CASE("bfloat16 conversion rounds to nearest even and keeps NaN and infinity") {
  auto bits = [](float v) { return nn::to_bfloat16(v).bits; };
  CHECK(bits(1.0f) == 0x3f80);
  // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1.0).
  CHECK(bits(1.0f + std::ldexp(1.0f, -8)) == 0x3f80);
  // 1 + 3·2^-8 lies halfway between 1 + 2^-7 and 1 + 2^-6: the even one is 1 + 2^-6.
  CHECK(bits(1.0f + 3 * std::ldexp(1.0f, -8)) == 0x3f82);
  // Just above the halfway point rounds up.
  CHECK(bits(std::nextafter(1.0f + std::ldexp(1.0f, -8), 2.0f)) == 0x3f81);
  CHECK(bits(-2.0f) == 0xc000);
  CHECK(bits(INFINITY) == 0x7f80);
  CHECK(bits(std::numeric_limits<float>::max()) == 0x7f80);  // rounds past the largest bf16 to infinity
  CHECK(std::isnan(nn::to_float(nn::to_bfloat16(NAN))));
  CHECK(nn::to_float(nn::bfloat16{0x3fc0}) == 1.5f);
}

TEST_CASE("a tensor knows its dtype and device; data<T>() checks both and to() converts both ways") {
  Tensor x = Tensor::from_data({2, 2}, {1.0f, -2.5f, 0.375f, 1.0f + std::ldexp(1.0f, -9)});
  CHECK(x.dtype() == nn::f32);
  CHECK(x.device() == nn::Device::cpu);
  Tensor h = x.to(nn::bf16);
  CHECK(h.dtype() == nn::bf16);
  CHECK(h.shape() == nn::Shape{2, 2});
  CHECK(h.impl()->storage->bytes >= 8);
  CHECK(h.data<nn::bfloat16>()[1].bits == 0xc020);  // -2.5
  CHECK_THROWS_WITH_AS(h.data(), "Tensor::data: the tensor's elements are bf16, not f32 (convert with .to(nn::f32))",
                       nn::Error);
  CHECK_THROWS_WITH_AS(x.data<nn::bfloat16>(),
                       "Tensor::data: the tensor's elements are f32, not bf16 (convert with .to(nn::bf16))", nn::Error);
  // Exactly representable values come back unchanged; 1 + 2^-9 rounds to 1.
  CHECK(h.to(nn::f32).to_vector() == std::vector<float>{1.0f, -2.5f, 0.375f, 1.0f});
  CHECK(h.to_vector() == std::vector<float>{1.0f, -2.5f, 0.375f, 1.0f});  // read through a conversion
  CHECK(h.at({1, 1}) == 1.0f);
  CHECK(Tensor::scalar(0.375f).to(nn::bf16).item() == 0.375f);
  CHECK(x.to(nn::f32).impl() == x.impl());  // already f32: the same tensor
  CHECK(h.to_string().find("bf16") != std::string::npos);
  Tensor ones = Tensor::empty({3}, nn::bf16);
  ones.fill(0.1f);
  CHECK(ones.to_vector() == std::vector<float>(3, nn::to_float(nn::to_bfloat16(0.1f))));
  CHECK_THROWS_WITH_AS(x.copy_from(h), "Tensor::copy_from: expected a f32 source, got bf16", nn::Error);
}

TEST_CASE("reserved dtypes are refused by name") {
  CHECK_THROWS_WITH_AS(Tensor::empty({2}, nn::DType::f16),
                       "Tensor: dtype f16 is reserved; no backend computes in it yet", nn::Error);
  CHECK_THROWS_WITH_AS(Tensor::zeros({2}).to(nn::DType::i8),
                       "Tensor::to: expected f32 or bf16, got i8 (reserved, not computed yet)", nn::Error);
  CHECK(nn::parse_dtype("bfloat16", "--precision") == nn::bf16);
  CHECK_THROWS_WITH_AS(nn::parse_dtype("fp8", "--precision"), "--precision: expected f32 or bf16, got 'fp8'",
                       nn::Error);
}

TEST_CASE("to() is differentiable: the gradient comes back in the input's dtype") {
  Tensor x = Tensor::from_data({3}, {0.5f, -1.0f, 2.0f}).set_requires_grad();
  Tensor y = x.to(nn::bf16).to(nn::f32);
  y.backward(Tensor::from_data({3}, {1.0f, 2.0f, 3.0f}));
  CHECK(x.grad().dtype() == nn::f32);
  CHECK(x.grad().to_vector() == std::vector<float>{1.0f, 2.0f, 3.0f});
}

TEST_CASE("a slice along the outermost axis is a view from an offset; another axis is a copy") {
  Tensor x = Tensor::arange(12.0f).reshape({4, 3});
  Tensor rows = nn::slice(x, 0, 1, 3);  // rows 1 and 2
  CHECK(rows.shape() == nn::Shape{2, 3});
  CHECK(rows.numel() == 6);
  CHECK(rows.impl()->storage == x.impl()->storage);
  CHECK(rows.data() == x.data() + 3);
  CHECK(rows.to_vector() == std::vector<float>{3, 4, 5, 6, 7, 8});
  rows.fill(-1.0f);  // writes through the view show in x, as in PyTorch
  CHECK(x.at({1, 0}) == -1.0f);
  CHECK(x.at({2, 2}) == -1.0f);
  CHECK(x.at({3, 0}) == 9.0f);
  // A view of a view keeps both offsets; reshape keeps the offset.
  Tensor second = nn::slice(rows, 0, 1, 2).reshape({3});
  CHECK(second.data() == x.data() + 6);
  // Along axis 1 the elements are not one run: a copy, which writes do not reach x through.
  Tensor column = nn::slice(x, 1, 0, 1);
  CHECK(column.impl()->storage != x.impl()->storage);
  column.fill(100.0f);
  CHECK(x.at({0, 0}) == 0.0f);
  CHECK_THROWS_WITH_AS(nn::detail::view(x, {5, 3}, 0),
                       "view: expected a range inside the base tensor's 12 elements, got offset 0 and shape [5,3]",
                       nn::Error);
}

TEST_CASE("the gradient of a sliced view reaches the rows it came from") {
  Tensor x = Tensor::ones({3, 2}).set_requires_grad();
  Tensor part = nn::slice(x, 0, 1, 2);
  part.backward(Tensor::from_data({1, 2}, {5.0f, 7.0f}));
  CHECK(x.grad().to_vector() == std::vector<float>{0, 0, 5, 7, 0, 0});
}

TEST_CASE("a bf16 tensor slices without conversion: a view along the outermost axis, a bf16 copy along another") {
  Tensor x = Tensor::arange(12.0f).reshape({4, 3}).to(nn::bf16);
  Tensor rows = nn::slice(x, 0, 2, 4);
  CHECK(rows.dtype() == nn::bf16);
  CHECK(rows.impl()->storage == x.impl()->storage);
  CHECK(rows.to_vector() == std::vector<float>{6, 7, 8, 9, 10, 11});
  Tensor column = nn::slice(x, 1, 1, 2);
  CHECK(column.dtype() == nn::bf16);
  CHECK(column.to_vector() == std::vector<float>{1, 4, 7, 10});
}

TEST_CASE("copy_from between overlapping views of one storage copies the values as they were") {
  Tensor a = Tensor::arange(6.0f);
  nn::slice(a, 0, 0, 5).copy_from(nn::slice(a, 0, 1, 6));  // shift left by one
  CHECK(a.to_vector() == std::vector<float>{1, 2, 3, 4, 5, 5});
  Tensor b = Tensor::arange(6.0f);
  nn::slice(b, 0, 1, 6).copy_from(nn::slice(b, 0, 0, 5));  // shift right by one
  CHECK(b.to_vector() == std::vector<float>{0, 0, 1, 2, 3, 4});
  Tensor c = Tensor::arange(6.0f);
  {
    nn::BackendScope scope(nn::ref_backend());
    nn::slice(c, 0, 1, 6).copy_from(nn::slice(c, 0, 0, 5));
  }
  CHECK(c.to_vector() == std::vector<float>{0, 0, 1, 2, 3, 4});
}
