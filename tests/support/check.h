// Helpers shared by the tests: element-wise comparison and the finite-difference gradient check.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <nn/nn.h>

namespace test {

// Every element of `actual` within atol + rtol·|expected| of `expected`, or equal to it (infinities), or NaN where it
// is NaN; reports the first offender. A NaN against a number fails (a plain `err > tol` test let it through).
inline void check_close(const nn::Tensor& actual, const nn::Tensor& expected, double rtol, double atol,
                        const std::string& what) {
  INFO(what);
  REQUIRE(actual.shape() == expected.shape());
  const float* a = actual.data();
  const float* e = expected.data();
  for (int64_t i = 0; i < actual.numel(); ++i) {
    if (a[i] == e[i] || (std::isnan(a[i]) && std::isnan(e[i]))) continue;
    double err = std::fabs(static_cast<double>(a[i]) - e[i]);
    if (!(err <= atol + rtol * std::fabs(static_cast<double>(e[i])))) {
      FAIL_CHECK(what << ": element " << i << " is " << a[i] << ", expected " << e[i] << " (error " << err << ")");
      return;
    }
  }
}

// The same float bits at every position (−0 against 0 or two NaN payloads differ); reports the first difference.
inline void check_same_bits(const std::vector<float>& actual, const std::vector<float>& expected,
                            const std::string& what) {
  REQUIRE_MESSAGE(actual.size() == expected.size(), what);
  for (size_t i = 0; i < actual.size(); ++i) {
    if (std::memcmp(&actual[i], &expected[i], sizeof(float)) != 0) {
      FAIL_CHECK(what << ": element " << i << " is " << actual[i] << ", expected " << expected[i] << " to the bit");
      return;
    }
  }
}

inline void check_close(const nn::Tensor& actual, std::vector<float> expected, double rtol, double atol,
                        const std::string& what) {
  check_close(actual, nn::Tensor::from_data(actual.shape(), expected), rtol, atol, what);
}

// One row of the gradient-check table.
struct GradCase {
  std::string name;
  std::vector<nn::Shape> inputs;
  std::function<nn::Tensor(const std::vector<nn::Tensor>&)> fn;
  // Inputs are drawn uniform in [low, high]; with away_from > 0, values closer than that to any of `kinks` are
  // moved away, so that finite differences never straddle a kink (relu at 0, hard_sigmoid at ±2.5).
  float low = -1.0f, high = 1.0f;
  std::vector<float> kinks = {};
  float away_from = 0.0f;
};

struct GradReport {
  bool ok = true;
  std::string failure;  // the first disagreement, for the test's message
  void fail(const std::string& why) {
    if (ok) failure = why;
    ok = false;
  }
};

// Checks the analytic gradient of Σ upstream ⊙ fn(inputs) against central differences (step h, accumulated in
// double), with a random upstream gradient; then runs backward a second time and checks the gradients doubled.
inline GradReport gradcheck(const GradCase& c, uint64_t seed = 7) {
  GradReport report;
  nn::Generator gen(seed);
  std::vector<nn::Tensor> inputs;
  for (const nn::Shape& shape : c.inputs) {
    nn::Tensor t = nn::Tensor::uniform(shape, c.low, c.high, gen);
    float* p = t.data();
    for (int64_t i = 0; i < t.numel(); ++i) {
      for (float k : c.kinks) {
        if (std::fabs(p[i] - k) < c.away_from) p[i] = k + (p[i] < k ? -c.away_from : c.away_from);
      }
    }
    t.set_requires_grad(true);
    inputs.push_back(t);
  }
  nn::Tensor out = c.fn(inputs);
  nn::Tensor upstream = nn::Tensor::uniform(out.shape(), -1.0f, 1.0f, gen);
  out.backward(upstream);
  std::vector<nn::Tensor> analytic;
  for (size_t k = 0; k < inputs.size(); ++k) {
    if (!inputs[k].grad().defined()) {
      report.fail("no gradient reached input " + std::to_string(k));
      return report;
    }
    analytic.push_back(inputs[k].grad().detach().clone());
  }

  auto objective = [&]() {
    nn::NoGradGuard no_grad;
    nn::Tensor y = c.fn(inputs);
    double total = 0;
    for (int64_t i = 0; i < y.numel(); ++i) total += static_cast<double>(y.data()[i]) * upstream.data()[i];
    return total;
  };
  const float h = 1e-2f;
  for (size_t k = 0; k < inputs.size(); ++k) {
    float* x = inputs[k].data();
    double diff_norm = 0, ref_norm = 0;
    for (int64_t i = 0; i < inputs[k].numel(); ++i) {
      float saved = x[i];
      x[i] = saved + h;
      double plus = objective();
      x[i] = saved - h;
      double minus = objective();
      x[i] = saved;
      // Divide by the step actually taken in float32, not by 2h.
      double numeric = (plus - minus) / (static_cast<double>(saved + h) - static_cast<double>(saved - h));
      double a = analytic[k].data()[i];
      diff_norm += (a - numeric) * (a - numeric);
      ref_norm += numeric * numeric;
      if (std::fabs(a - numeric) > 5e-3 + 2e-2 * std::fabs(numeric)) {
        report.fail("input " + std::to_string(k) + " element " + std::to_string(i) + ": analytic " + std::to_string(a) +
                    ", numeric " + std::to_string(numeric));
      }
    }
    double relative = std::sqrt(diff_norm) / std::max(std::sqrt(ref_norm), 1e-6);
    if (relative > 1e-2) report.fail("input " + std::to_string(k) + ": relative error " + std::to_string(relative));
  }

  // A second backward accumulates: every gradient doubles.
  out.backward(upstream);
  for (size_t k = 0; k < inputs.size(); ++k) {
    const float* once = analytic[k].data();
    const float* twice = inputs[k].grad().data();
    for (int64_t i = 0; i < analytic[k].numel(); ++i) {
      if (std::fabs(twice[i] - 2.0f * once[i]) > 1e-5f * (1.0f + std::fabs(once[i]))) {
        report.fail("input " + std::to_string(k) + ": second backward did not accumulate (element " +
                    std::to_string(i) + ")");
        break;
      }
    }
  }
  return report;
}

// Runs every row of a gradient-check table, each as its own subcase named after the row.
inline void check_gradients(const std::vector<GradCase>& table) {
  for (const GradCase& c : table) {
    SUBCASE(c.name.c_str()) {
      GradReport report = gradcheck(c);
      CHECK_MESSAGE(report.ok, c.name << ": " << report.failure);
    }
  }
}

// Every parameter and buffer of `m`, flattened in named_state() order: for comparing two models bit for bit.
inline std::vector<float> all_weights(const nn::Module& m) {
  std::vector<float> out;
  for (const auto& [name, t] : m.named_state()) {
    std::vector<float> v = t.to_vector();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

}  // namespace test
