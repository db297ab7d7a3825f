// The op-test harness (tests/test_backend_ops.cpp): runs an op under one backend (nn/backends/backend.h) in one
// dtype and compares its output and every input's gradient with the reference backend's, in f32. Modelled on
// ggml's test-backend-ops (each case names its inputs' shapes in every message; every backend is checked against
// one oracle), written for libnn's Tensor and BackendScope.
//
// One run of a case: the case's make() draws f32 inputs for the extents of a Variant from a seeded generator; the
// harness converts them to the run's dtype (optionally as offset views: rows 1 … n of a tensor two rows longer),
// calls the op under BackendScope(backend), then back-propagates a fixed random upstream gradient w — the gradient
// of Σ output ⊙ w — and reads the output and the inputs' gradients back in f32.
//
// The oracle is the ref backend in f32: on the same f32 inputs for an f32 run; for a bf16 run on the inputs rounded
// to bf16 (so that a comparison, a max or a relu sees the same values on both sides and only the op's own rounding
// is measured).
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nn/backends/backend.h>
#include <nn/nn.h>

namespace test {

/// The extents one run of a case uses: n may be 0 (the empty variant); a, b and c are at least 1. A case decides
/// which axis gets which (n is the batch-like axis, c the channels or the last axis).
struct Dims {
  int64_t n = 1, a = 1, b = 1, c = 1;
};

/// A way to draw a case's shapes: a name for messages, its extents, and whether the inputs are offset views.
struct Variant {
  std::string name;
  Dims dims;
  bool views = false;  ///< every input of rank ≥ 1 rows [1, 1 + extent) along axis 0 of a tensor 2 rows longer
};

/// The inputs of one run, as the op sees them.
struct OpInputs {
  std::vector<nn::Tensor> t;     ///< converted to the run's dtype (those made with keep_f32 stay f32)
  std::vector<nn::Indices> ids;  ///< integer inputs: the same in every run
  const nn::Tensor& operator[](size_t i) const { return t[i]; }
};

/// What a case's make() returns: f32 tensors with their roles, and integer ids. Built by chaining:
/// `return OpArgs(g).x({d.n, d.a}).x({d.a}, 0.5f, 2.0f);`.
class OpArgs {
 public:
  explicit OpArgs(nn::Generator& gen) : gen_(&gen) {}

  /// An input uniform in [low, high): converted to the run's dtype, viewed, and its gradient compared.
  OpArgs& x(const nn::Shape& shape, float low = -1.0f, float high = 1.0f) {
    return add(nn::Tensor::uniform(shape, low, high, *gen_), false);
  }
  /// An input of whole numbers in [low, high] (for eq and ne, which need equal values to be worth testing).
  OpArgs& ints(const nn::Shape& shape, int low, int high) {
    nn::Tensor t = nn::Tensor::empty(shape);
    float* p = t.data();
    for (int64_t i = 0; i < t.numel(); ++i)
      p[i] = static_cast<float>(low + static_cast<int>(gen_->below(high - low + 1)));
    return add(t, false);
  }
  /// A tensor that stays f32 and takes no gradient (a mask, moving statistics, class weights).
  OpArgs& fixed(const nn::Tensor& t) { return add(t, true); }
  /// A 0/1 f32 mask (each 1 with probability `keep`), fixed.
  OpArgs& mask(const nn::Shape& shape, float keep = 0.7f) {
    nn::Tensor t = nn::Tensor::empty(shape);
    float* p = t.data();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = gen_->uniform() < keep ? 1.0f : 0.0f;
    return fixed(t);
  }
  /// Integer ids of `shape` in [0, classes); with ignore ≠ 0, about one in five is `ignore` instead.
  OpArgs& ids(const nn::Shape& shape, int64_t classes, int32_t ignore = 0) {
    std::vector<int32_t> values(static_cast<size_t>(nn::numel(shape)));
    for (int32_t& v : values) {
      v = ignore != 0 && gen_->uniform() < 0.2f ? ignore : static_cast<int32_t>(gen_->below(classes));
    }
    ids_.emplace_back(shape, values);
    return *this;
  }

  const std::vector<nn::Tensor>& values() const { return values_; }
  const std::vector<bool>& keep_f32() const { return keep_f32_; }
  const std::vector<nn::Indices>& id_inputs() const { return ids_; }

 private:
  OpArgs& add(const nn::Tensor& t, bool keep) {
    values_.push_back(t);
    keep_f32_.push_back(keep);
    return *this;
  }
  nn::Generator* gen_;
  std::vector<nn::Tensor> values_;
  std::vector<bool> keep_f32_;
  std::vector<nn::Indices> ids_;
};

/// Draws a case's inputs for a variant's extents.
using MakeInputs = std::function<OpArgs(nn::Generator&, const Dims&)>;

/// One row of the op table: a name, how to draw its inputs, and the op.
struct OpCase {
  std::string name;
  MakeInputs make;
  std::function<nn::Tensor(const OpInputs&)> op;
  /// Multiplies the bf16 tolerance, for composites that round to bf16 between their ops (the comment at the row
  /// says why); f32 is never relaxed.
  double bf16_slack = 1.0;
};

/// Relative tolerances against the oracle: |got − expected| ≤ rtol·(|expected| + scale), scale the largest |expected|
/// of that tensor — relative to the element where it is large, to the tensor's scale where it is near 0.
/// f32: cpu kernels sum in float and in another order than ref's double sums (1e-5 is ~100 float ulps of the scale);
/// bf16: inputs and every rounded result carry 8 mantissa bits (2⁻⁹ ≈ 0.2 % per rounding).
inline double tolerance_for(nn::DType dtype) {
  return dtype == nn::DType::bf16 ? 1e-2 : 1e-5;
}

/// The worst element of a comparison.
struct Worst {
  int64_t index = -1;  ///< flat, row-major
  double got = 0, expected = 0, error = 0, tolerance = 0;
  bool fails = false;
};

/// Compares `got` with `expected` (both f32, one shape) element by element: NaN matches NaN and an infinity the same
/// infinity; anything else within rtol·(|expected| + scale). Returns the element with the largest error/tolerance.
inline Worst compare_tensors(const nn::Tensor& got, const nn::Tensor& expected, double rtol) {
  Worst worst;
  const float* g = got.data();
  const float* e = expected.data();
  double scale = 0;
  for (int64_t i = 0; i < expected.numel(); ++i) {
    if (std::isfinite(e[i])) scale = std::max(scale, std::fabs(static_cast<double>(e[i])));
  }
  double worst_ratio = -1;
  for (int64_t i = 0; i < expected.numel(); ++i) {
    double gi = g[i], ei = e[i];
    double error = 0, tolerance = rtol * (std::fabs(ei) + scale);
    if (std::isnan(ei) || std::isnan(gi)) {
      error = std::isnan(ei) && std::isnan(gi) ? 0 : INFINITY;
    } else if (std::isinf(ei) || std::isinf(gi)) {
      error = gi == ei ? 0 : INFINITY;
    } else {
      error = std::fabs(gi - ei);
    }
    bool fails = error > tolerance;
    double ratio = tolerance > 0 ? error / tolerance : (error > 0 ? INFINITY : 0);
    if (ratio > worst_ratio) {
      worst = {i, gi, ei, error, tolerance, fails};
      worst_ratio = ratio;
    }
  }
  return worst;
}

/// "[1,6]": a flat index as a multi-index of `shape`.
inline std::string index_text(const nn::Shape& shape, int64_t flat) {
  std::vector<int64_t> index(shape.size());
  for (size_t k = shape.size(); k-- > 0;) {
    index[k] = shape[k] > 0 ? flat % shape[k] : 0;
    flat = shape[k] > 0 ? flat / shape[k] : 0;
  }
  std::string s = "[";
  for (size_t k = 0; k < index.size(); ++k) {
    if (k > 0) s += ',';
    s += std::to_string(index[k]);
  }
  return s + "]";
}

/// One disagreement, as the harness reports it.
struct OpFailure {
  std::string op, backend, dtype, variant, shapes;
  std::string what;    ///< "output", "gradient of input 1", or what went wrong
  std::string detail;  ///< the worst element, or the error's text
  /// One line: op, backend, dtype, variant, input shapes, what, and the worst element with its index.
  std::string line() const {
    return op + " | backend " + backend + " | " + dtype + " | " + variant + " | inputs " + shapes + " | " + what +
           ": " + detail;
  }
};

/// A run skipped because an op or a primitive it calls is still a stub ("not written yet").
struct OpSkip {
  std::string op, backend, dtype, variant, message;
};

/// What run_op_cases found.
struct HarnessReport {
  int runs = 0;             ///< (case, variant, backend) runs attempted
  int comparisons = 0;      ///< tensors compared (outputs and gradients)
  int rejected_alike = 0;   ///< runs whose inputs the op refused with the oracle's very message
  double worst_ratio = 0;   ///< the largest error/tolerance of any element compared (below 1 passes)
  std::string worst_where;  ///< which op, backend and tensor it was
  std::vector<OpFailure> failures;
  std::vector<OpSkip> skipped;  ///< runs skipped for now (a "not written yet" stub)

  /// The ops with at least one failure under `backend`.
  std::set<std::string> failing_ops(const std::string& backend) const {
    std::set<std::string> ops;
    for (const OpFailure& f : failures) {
      if (f.backend == backend) ops.insert(f.op);
    }
    return ops;
  }
};

namespace detail {

/// The output and the gradients of one run, in f32; or the error it threw.
struct RunResult {
  std::optional<std::string> error;           ///< what the forward threw
  std::optional<std::string> backward_error;  ///< what the backward threw (the output is still compared)
  nn::Tensor output;
  bool output_requires_grad = false;
  std::vector<nn::Tensor> grads;  ///< per tensor input; undefined where none reached it
};

/// How an exception that is not an nn::Error is reported (such a one is never taken for a stub).
inline const std::string kNotAnNnError = "not an nn::Error: ";

/// A copy of t in f32, with no history.
inline nn::Tensor f32_copy(const nn::Tensor& t) {
  return t.detach().to(nn::DType::f32).detach().clone();
}

/// Runs `c` on `args` under `backend` with the tensor inputs in `dtype`. Inputs are prepared and results read back
/// under the ref backend, so that only the op itself (its forward and its backward) runs on `backend`.
inline RunResult run_once(const OpCase& c, const OpArgs& args, const nn::Backend& backend, nn::DType dtype,
                          bool round_to_bf16, bool views, uint64_t seed) {
  RunResult result;
  const nn::Backend& ref = nn::ref_backend();
  OpInputs in;
  in.ids = args.id_inputs();
  std::vector<bool> has_grad;
  {
    nn::BackendScope prepare(ref);
    for (size_t i = 0; i < args.values().size(); ++i) {
      nn::Tensor v = args.values()[i];
      if (args.keep_f32()[i]) {
        in.t.push_back(v.clone());
        has_grad.push_back(false);
        continue;
      }
      if (round_to_bf16) v = v.to(nn::DType::bf16).to(nn::DType::f32);
      v = v.to(dtype);
      if (views && v.rank() >= 1) {
        // The same values in rows [1, 1 + extent) of a tensor two rows longer: an offset into larger storage.
        // The rows around them hold 1e4, which would show in any result that reads outside the view.
        nn::Shape longer = v.shape();
        longer[0] += 2;
        nn::Tensor big = nn::Tensor::empty(longer, dtype);
        big.fill(1e4f);
        // The view is made directly (what nn::slice(big, 0, 1, 1 + extent) returns for f32), so that it stays a
        // view in every dtype whatever slice does.
        nn::Shape row(v.shape().begin() + 1, v.shape().end());
        nn::Tensor view = nn::detail::view(big, v.shape(), nn::numel(row));
        view.copy_from(v);
        v = view;
      } else {
        v = v.detach().clone();
      }
      v.set_requires_grad(true);
      in.t.push_back(v);
      has_grad.push_back(true);
    }
  }
  nn::Tensor out;
  try {
    nn::BackendScope scope(backend);
    out = c.op(in);
  } catch (const nn::Error& e) {
    result.error = e.what();
    return result;
  } catch (const std::exception& e) {  // never a stub: reported as a failure
    result.error = kNotAnNnError + e.what();
    return result;
  }
  result.output_requires_grad = out.requires_grad();
  if (out.requires_grad()) {
    try {
      nn::BackendScope scope(backend);
      nn::Generator gen(seed ^ 0x9e3779b97f4a7c15ull);
      nn::Tensor w = nn::Tensor::uniform(out.shape(), -1.0f, 1.0f, gen);
      // A bf16 output's gradient arrives in bf16: the oracle of a bf16 run gets the same rounded one.
      if (round_to_bf16) w = w.to(nn::DType::bf16).to(nn::DType::f32);
      out.to(nn::DType::f32).backward(w);  // the gradient of Σ out ⊙ w
    } catch (const nn::Error& e) {
      result.backward_error = e.what();
    } catch (const std::exception& e) {
      result.backward_error = kNotAnNnError + e.what();
    }
  }
  nn::BackendScope read_back(ref);
  result.output = f32_copy(out);
  for (size_t i = 0; i < in.t.size() && !result.backward_error; ++i) {
    nn::Tensor g = has_grad[i] ? in.t[i].grad() : nn::Tensor();
    result.grads.push_back(g.defined() ? f32_copy(g) : nn::Tensor());
  }
  return result;
}

inline std::string shapes_text(const OpArgs& args) {
  std::string s;
  for (const nn::Tensor& t : args.values()) {
    if (!s.empty()) s += ' ';
    s += nn::to_string(t.shape());
  }
  for (const nn::Indices& ids : args.id_inputs()) {
    if (!s.empty()) s += ' ';
    s += "ids " + nn::to_string(ids.shape);
  }
  return s.empty() ? "(none)" : s;
}

/// Whether an op's nn::Error says that a primitive or op is still a stub.
inline bool is_stub(const std::string& message) {
  return message.rfind(kNotAnNnError, 0) != 0 && message.find("not written yet") != std::string::npos;
}

inline std::string worst_text(const nn::Shape& shape, const Worst& w) {
  std::ostringstream s;
  s.precision(9);
  s << "worst element " << w.index << " " << index_text(shape, w.index) << ": got " << w.got << ", expected "
    << w.expected << " (error " << w.error << " > tolerance " << w.tolerance << ")";
  return s.str();
}

}  // namespace detail

/// Runs every case of `cases` for every variant under every backend of `backends` in `dtype`, against the ref
/// backend in f32, and returns what disagreed. Cases are independent: one that throws is reported and the rest run.
inline HarnessReport run_op_cases(const std::vector<OpCase>& cases, const std::vector<Variant>& variants,
                                  const std::vector<const nn::Backend*>& backends, nn::DType dtype) {
  HarnessReport report;
  const double rtol_base = tolerance_for(dtype);
  const std::string dtype_text = nn::dtype_name(dtype);
  for (size_t ci = 0; ci < cases.size(); ++ci) {
    const OpCase& c = cases[ci];
    const double rtol = dtype == nn::DType::bf16 ? rtol_base * c.bf16_slack : rtol_base;
    for (size_t vi = 0; vi < variants.size(); ++vi) {
      const Variant& v = variants[vi];
      const uint64_t seed = 1000 * (ci + 1) + vi;
      nn::Generator gen(seed);
      OpArgs args = c.make(gen, v.dims);
      const std::string shapes = detail::shapes_text(args);
      auto fail = [&](const std::string& backend, const std::string& what, const std::string& detail) {
        report.failures.push_back({c.name, backend, dtype_text, v.name, shapes, what, detail});
      };
      detail::RunResult oracle =
          detail::run_once(c, args, nn::ref_backend(), nn::DType::f32, dtype == nn::DType::bf16, v.views, seed);
      for (const nn::Backend* backend : backends) {
        if (backend == &nn::ref_backend() && dtype == nn::DType::f32) continue;  // the oracle itself
        ++report.runs;
        auto skip = [&](const std::string& message) {
          report.skipped.push_back({c.name, backend->name, dtype_text, v.name, message});
        };
        if (oracle.error && detail::is_stub(*oracle.error)) {
          skip("the oracle (ref, f32): " + *oracle.error);
          continue;
        }
        detail::RunResult run = detail::run_once(c, args, *backend, dtype, false, v.views, seed);
        if (run.error && detail::is_stub(*run.error)) {
          skip(*run.error);
          continue;
        }
        if (oracle.error || run.error) {
          // Inputs the op refuses (an empty mean, too few values for batch statistics) must be refused alike.
          if (oracle.error && run.error && *oracle.error == *run.error) {
            ++report.rejected_alike;
          } else if (run.error) {
            fail(backend->name, "forward threw", *run.error);
          } else {
            fail(backend->name, "forward did not throw", "the oracle (ref, f32) threw: " + *oracle.error);
          }
          continue;
        }
        auto check = [&](const std::string& what, const nn::Tensor& got, const nn::Tensor& expected) {
          ++report.comparisons;
          if (got.defined() != expected.defined()) {
            fail(backend->name, what,
                 got.defined() ? "present, but the oracle has none" : "missing (the oracle has one)");
            return;
          }
          if (!got.defined()) return;
          if (got.shape() != expected.shape()) {
            fail(backend->name, what,
                 "shape " + nn::to_string(got.shape()) + ", expected " + nn::to_string(expected.shape()));
            return;
          }
          Worst w = compare_tensors(got, expected, rtol);
          double ratio = w.tolerance > 0 ? w.error / w.tolerance : (w.error > 0 ? INFINITY : 0);
          if (w.index >= 0 && ratio > report.worst_ratio) {
            report.worst_ratio = ratio;
            report.worst_where = c.name + ", backend " + backend->name + ", " + v.name + ", " + what;
          }
          if (w.fails) fail(backend->name, what, detail::worst_text(expected.shape(), w));
        };
        check("output", run.output, oracle.output);
        if (run.output_requires_grad != oracle.output_requires_grad) {
          fail(backend->name, "output",
               run.output_requires_grad ? "requires grad, the oracle's does not"
                                        : "does not require grad, the oracle's does");
          continue;
        }
        if (oracle.backward_error || run.backward_error) {
          const std::string& message = oracle.backward_error ? *oracle.backward_error : *run.backward_error;
          if (detail::is_stub(message)) {
            skip(std::string(oracle.backward_error ? "backward of the oracle (ref, f32): " : "backward: ") + message);
          } else if (oracle.backward_error) {
            fail(backend->name, "backward of the oracle (ref, f32) threw", message);
          } else {
            fail(backend->name, "backward threw", message);
          }
          continue;
        }
        for (size_t i = 0; i < run.grads.size(); ++i) {
          check("gradient of input " + std::to_string(i), run.grads[i], oracle.grads[i]);
        }
      }
    }
  }
  return report;
}

/// Reports a HarnessReport through doctest: one FAIL_CHECK line per (op, backend, dtype, what failed) — its first
/// failure and how many runs of it failed —, one failure per op that met a stub, and the summary line.
inline void report_to_doctest(const HarnessReport& report, const std::string& title, size_t case_count,
                              size_t variant_count) {
  std::map<std::string, std::pair<const OpFailure*, int>> first;
  for (const OpFailure& f : report.failures) {
    auto& [failure, count] = first[f.op + " | " + f.backend + " | " + f.dtype + " | " + f.what];
    if (failure == nullptr) failure = &f;
    ++count;
  }
  for (const auto& [key, entry] : first) {
    FAIL_CHECK(entry.first->line() << (entry.second > 1 ? " (and " + std::to_string(entry.second - 1) + " more)" : ""));
  }
  std::map<std::string, const OpSkip*> skipped_ops;
  for (const OpSkip& s : report.skipped) skipped_ops.emplace(s.op + " | backend " + s.backend + " | " + s.dtype, &s);
  // Every primitive is written now: a run that meets a stub means one was reverted, and fails.
  for (const auto& [key, s] : skipped_ops) FAIL_CHECK("skipped (a stub): " << key << ": " << s->message);
  std::set<std::string> ops_skipped;
  for (const OpSkip& s : report.skipped) ops_skipped.insert(s.op);
  MESSAGE(title << ": " << case_count << " cases x " << variant_count << " variants, " << report.runs << " runs, "
                << report.comparisons << " tensors compared, " << report.rejected_alike
                << " runs refused alike by op and oracle, " << report.failures.size() << " failures; skipped for now "
                << "(not written yet): " << report.skipped.size() << " runs of " << ops_skipped.size() << " ops");
  MESSAGE(title << ": the largest error was " << report.worst_ratio << " of its tolerance (" << report.worst_where
                << ")");
}

}  // namespace test
