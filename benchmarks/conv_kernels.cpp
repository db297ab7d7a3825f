// conv_kernels: checks every fast convolution/pooling kernel against its naive reference on the real Xception
// layer shapes (or a shape given on the command line), then times forward and forward+backward and prints
// GFLOP/s, the fraction of OpenBLAS sgemm's speed on the same GEMM shape and, when Debian's python3-torch is
// installed, PyTorch's time for the same layer measured in the same run. Times are minima over repetitions and over
// rounds that alternate PyTorch's measurements with ours (bench.h).
#include <cblas.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nn/backends/backend.h>
#include <nn/backends/cpu/conv2d.h>
#include <nn/backends/cpu/depthwise.h>
#include <nn/backends/cpu/gemm.h>
#include <nn/backends/cpu/isa.h>
#include <nn/backends/cpu/pool.h>
#include <nn/backends/ref/loops.h>
#include <nn/nn.h>
#include <nn/ops/window.h>

#include "bench.h"

namespace {

using nn::kernels::Window2D;

enum class Kind { conv, depthwise, maxpool };
const char* kind_name(Kind k) {
  return k == Kind::conv ? "conv" : k == Kind::depthwise ? "depthwise" : "maxpool";
}

struct LayerSpec {
  std::string name;
  Kind kind;
  int64_t h, w, cin, cout, k, s;
  nn::Padding padding;
};

std::vector<LayerSpec> xception_layers() {
  using nn::Padding;
  return {
      {"block1_conv1", Kind::conv, 299, 299, 3, 32, 3, 2, Padding::valid},
      {"block1_conv2", Kind::conv, 149, 149, 32, 64, 3, 1, Padding::valid},
      {"dw 147x147x128", Kind::depthwise, 147, 147, 128, 128, 3, 1, Padding::same},
      {"dw 74x74x256", Kind::depthwise, 74, 74, 256, 256, 3, 1, Padding::same},
      {"dw 37x37x728", Kind::depthwise, 37, 37, 728, 728, 3, 1, Padding::same},
      {"dw 19x19x728", Kind::depthwise, 19, 19, 728, 728, 3, 1, Padding::same},
      {"dw 10x10x1536", Kind::depthwise, 10, 10, 1536, 1536, 3, 1, Padding::same},
      {"pw 147x147 128->128", Kind::conv, 147, 147, 128, 128, 1, 1, Padding::valid},
      {"pw 37x37 256->728", Kind::conv, 37, 37, 256, 728, 1, 1, Padding::valid},
      {"pw 19x19 728->728", Kind::conv, 19, 19, 728, 728, 1, 1, Padding::valid},
      {"pw 10x10 1536->2048", Kind::conv, 10, 10, 1536, 2048, 1, 1, Padding::valid},
      {"res 147x147 64->128 s2", Kind::conv, 147, 147, 64, 128, 1, 2, Padding::same},
      {"res 74x74 128->256 s2", Kind::conv, 74, 74, 128, 256, 1, 2, Padding::same},
      {"res 37x37 256->728 s2", Kind::conv, 37, 37, 256, 728, 1, 2, Padding::same},
      {"res 19x19 728->1024 s2", Kind::conv, 19, 19, 728, 1024, 1, 2, Padding::same},
      {"maxpool 147x147x128", Kind::maxpool, 147, 147, 128, 128, 3, 2, Padding::same},
      {"maxpool 74x74x256", Kind::maxpool, 74, 74, 256, 256, 3, 2, Padding::same},
      {"maxpool 37x37x728", Kind::maxpool, 37, 37, 728, 728, 3, 2, Padding::same},
      {"maxpool 19x19x1024", Kind::maxpool, 19, 19, 1024, 1024, 3, 2, Padding::same},
  };
}

// Everything one layer's kernels read and write.
struct Buffers {
  Window2D g;
  nn::Tensor x, w, y, dy, dx, dw, workspace;

  Buffers(const LayerSpec& l, int64_t batch) {
    g = nn::plan_window("conv_kernels", {batch, l.h, l.w, l.cin}, {l.k, l.k, l.s, l.s, l.padding},
                        l.kind == Kind::conv ? l.cout : l.cin);
    nn::Generator gen(1);
    x = nn::Tensor::uniform({g.n, g.h, g.w, g.c}, -1, 1, gen);
    w = nn::Tensor::uniform(l.kind == Kind::conv ? nn::Shape{g.kh, g.kw, g.c, g.oc} : nn::Shape{g.kh, g.kw, g.c}, -1, 1,
                            gen);
    y = nn::Tensor::empty({g.n, g.oh, g.ow, g.oc});
    dy = nn::Tensor::uniform(y.shape(), -1, 1, gen);
    dx = nn::Tensor::empty(x.shape());
    dw = nn::Tensor::empty(w.shape());
    workspace = nn::Tensor::empty({l.kind == Kind::conv        ? nn::kernels::conv2d_workspace_floats(g)
                                   : l.kind == Kind::depthwise ? nn::kernels::depthwise_workspace_floats(g)
                                                               : 0});
  }
};

void forward(Kind kind, Buffers& b) {
  namespace k = nn::kernels;
  if (kind == Kind::conv) k::conv2d_forward(b.g, b.x.data(), b.w.data(), nullptr, b.y.data(), b.workspace.data());
  if (kind == Kind::depthwise) k::depthwise_forward(b.g, b.x.data(), b.w.data(), nullptr, b.y.data());
  if (kind == Kind::maxpool) k::max_pool_forward(b.g, b.x.data(), b.y.data());
}

void backward(Kind kind, Buffers& b) {
  namespace k = nn::kernels;
  if (kind == Kind::conv) {
    k::conv2d_backward_input(b.g, b.dy.data(), b.w.data(), b.dx.data(), b.workspace.data());
    k::conv2d_backward_weight(b.g, b.x.data(), b.dy.data(), b.dw.data(), b.workspace.data());
  }
  if (kind == Kind::depthwise) {
    k::depthwise_backward_input(b.g, b.dy.data(), b.w.data(), b.dx.data(), b.workspace.data());
    k::depthwise_backward_weight(b.g, b.x.data(), b.dy.data(), b.dw.data(), b.workspace.data());
  }
  if (kind == Kind::maxpool) k::max_pool_backward(b.g, b.x.data(), b.y.data(), b.dy.data(), b.dx.data());
}

// Largest |fast − ref| relative to the largest |ref|.
double max_error(const nn::Tensor& fast, const nn::Tensor& ref) {
  double err = 0, scale = 1e-30;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    err = std::max(err, static_cast<double>(std::fabs(fast.data()[i] - ref.data()[i])));
    scale = std::max(scale, static_cast<double>(std::fabs(ref.data()[i])));
  }
  return err / scale;
}

// Runs the fast kernels and the naive references on the same data; returns the worst relative error.
double check_against_reference(const LayerSpec& l, Buffers& b) {
  namespace k = nn::kernels;
  forward(l.kind, b);
  backward(l.kind, b);
  nn::Tensor y = nn::Tensor::empty(b.y.shape()), dx = nn::Tensor::empty(b.dx.shape()),
             dw = nn::Tensor::empty(b.dw.shape());
  double worst = 0;
  if (l.kind == Kind::conv) {
    k::conv2d_forward_ref(b.g, b.x.data(), b.w.data(), nullptr, y.data());
    k::conv2d_backward_input_ref(b.g, b.dy.data(), b.w.data(), dx.data());
    k::conv2d_backward_weight_ref(b.g, b.x.data(), b.dy.data(), dw.data());
    worst = std::max({max_error(b.y, y), max_error(b.dx, dx), max_error(b.dw, dw)});
  } else if (l.kind == Kind::depthwise) {
    k::depthwise_forward_ref(b.g, b.x.data(), b.w.data(), nullptr, y.data());
    k::depthwise_backward_input_ref(b.g, b.dy.data(), b.w.data(), dx.data());
    k::depthwise_backward_weight_ref(b.g, b.x.data(), b.dy.data(), dw.data());
    worst = std::max({max_error(b.y, y), max_error(b.dx, dx), max_error(b.dw, dw)});
  } else {
    k::max_pool_forward_ref(b.g, b.x.data(), y.data());
    k::max_pool_backward_ref(b.g, b.x.data(), b.dy.data(), dx.data());
    worst = std::max(max_error(b.y, y), max_error(b.dx, dx));
  }
  return worst;
}

double forward_flops(Kind kind, const Window2D& g) {
  double pixels = static_cast<double>(g.n * g.oh * g.ow);
  if (kind == Kind::conv) return 2.0 * pixels * g.oc * g.kh * g.kw * g.c;
  if (kind == Kind::depthwise) return 2.0 * pixels * g.c * g.kh * g.kw;
  return pixels * g.c * g.kh * g.kw;  // comparisons
}

// OpenBLAS sgemm on the GEMM a convolution amounts to: [N·OH·OW, KH·KW·C] × [KH·KW·C, OC].
double sgemm_seconds(const Window2D& g) {
  int m = static_cast<int>(g.n * g.oh * g.ow), n = static_cast<int>(g.oc), k = static_cast<int>(g.kh * g.kw * g.c);
  nn::Generator gen(2);
  nn::Tensor a = nn::Tensor::uniform({m, k}, -1, 1, gen), b = nn::Tensor::uniform({k, n}, -1, 1, gen);
  nn::Tensor c = nn::Tensor::empty({m, n});
  return bench::min_time([&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, c.data(), n);
  });
}

// ---- bf16 rows: each layer's forward through the cpu backend in bf16 against f32, and the GEMMs of Xception's
// pointwise layers at batch 8 ("gemm bf16" beside "gemm f32"). ----

// The largest |bf16 − f32| of a layer's output relative to the largest |f32| output.
double bf16_error(const nn::Tensor& bf16_y, const nn::Tensor& f32_y) {
  return max_error(bf16_y.to(nn::DType::f32), f32_y);
}

struct Bf16Row {
  std::string name;
  double f32_s, bf16_s, error;
};

// One layer's forward, f32 and bf16, through the cpu backend's table.
Bf16Row bf16_layer(const LayerSpec& l, Buffers& b) {
  const nn::Backend& be = nn::cpu_backend();
  const nn::DType f32 = nn::DType::f32, bf16 = nn::DType::bf16;
  nn::Tensor x = b.x.to(bf16), w = b.w.to(bf16), y = nn::Tensor::empty(b.y.shape(), bf16);
  nn::Tensor workspace =
      nn::Tensor::empty({l.kind == Kind::conv ? std::max<int64_t>(be.conv2d_workspace(b.g, bf16), 1) : 1});
  auto run = [&](nn::DType t) {
    const bool half = t == bf16;
    const void* xp = half ? x.raw_data() : b.x.raw_data();
    void* yp = half ? y.raw_data() : b.y.raw_data();
    if (l.kind == Kind::conv) {
      be.conv2d_forward(b.g, t, xp, half ? w.raw_data() : b.w.raw_data(), nullptr, yp,
                        half ? workspace.raw_data() : b.workspace.raw_data());
    } else if (l.kind == Kind::depthwise) {
      be.depthwise_forward(b.g, t, xp, half ? w.raw_data() : b.w.raw_data(), nullptr, yp);
    } else {
      be.pool_forward(nn::kernels::Pool::max, b.g, t, xp, yp);
    }
  };
  Bf16Row row{l.name, bench::min_time([&] { run(f32); }), bench::min_time([&] { run(bf16); }), 0};
  run(f32);
  run(bf16);
  row.error = bf16_error(y, b.y);
  return row;
}

struct GemmRow {
  std::string name;
  int m, n, k;
  double f32_gflops, bf16_gflops;
};

// C (M,N) = A (M,K)·B (K,N): the f32 GEMM (kernels::gemm) against the bf16 one (A, B and C bf16) of the table.
GemmRow gemm_row(const std::string& name, int m, int n, int k) {
  nn::Generator gen(3);
  nn::Tensor a = nn::Tensor::uniform({m, k}, -1, 1, gen), b = nn::Tensor::uniform({k, n}, -1, 1, gen);
  nn::Tensor c = nn::Tensor::empty({m, n});
  nn::Tensor a16 = a.to(nn::DType::bf16), b16 = b.to(nn::DType::bf16), c16 = nn::Tensor::empty({m, n}, nn::DType::bf16);
  const nn::kernels::GemmShape s{.m = m, .n = n, .k = k};
  nn::kernels::GemmCall call{.shape = s, .ab_type = nn::DType::bf16, .c_type = nn::DType::bf16};
  call.a = a16.raw_data();
  call.b = b16.raw_data();
  call.c = c16.raw_data();
  const double flops = 2.0 * m * n * k;
  const double f32_s = bench::min_time([&] { nn::kernels::gemm(s, 1.0f, a.data(), b.data(), 0.0f, c.data()); });
  const double bf16_s = bench::min_time([&] { nn::cpu_backend().gemm(call); });
  return {name, m, n, k, flops / f32_s / 1e9, flops / bf16_s / 1e9};
}

std::vector<GemmRow> xception_gemms() {
  const int batch = 8;
  return {gemm_row("pw 19x19 728->728", batch * 19 * 19, 728, 728),
          gemm_row("pw 37x37 256->728", batch * 37 * 37, 728, 256),
          gemm_row("pw 10x10 1536->2048", batch * 10 * 10, 2048, 1536),
          gemm_row("pw 74x74 128->256", batch * 74 * 74, 256, 128)};
}

void print_bf16(const std::vector<Bf16Row>& layers, const std::vector<GemmRow>& gemms) {
  std::printf("bf16 (gemm on %s); forward times in ms, speedup = f32 time / bf16 time\n",
              nn::kernels::cpu_supports_bf16() ? "AVX512_BF16" : "the conversion fallback");
  std::printf("%-24s %9s %9s %8s %12s\n", "layer", "f32 fwd", "bf16 fwd", "speedup", "bf16 rel err");
  for (const Bf16Row& r : layers) {
    std::printf("%-24s %9.3f %9.3f %8.2f %12.1e\n", r.name.c_str(), r.f32_s * 1e3, r.bf16_s * 1e3, r.f32_s / r.bf16_s,
                r.error);
  }
  std::printf("%-24s %18s %10s %10s %6s\n", "GEMM, batch 8", "M x N x K", "gemm f32", "gemm bf16", "ratio");
  for (const GemmRow& g : gemms) {
    char dims[48];
    std::snprintf(dims, sizeof dims, "%dx%dx%d", g.m, g.n, g.k);
    std::printf("%-24s %18s %10.1f %10.1f %6.2f\n", g.name.c_str(), dims, g.f32_gflops, g.bf16_gflops,
                g.bf16_gflops / g.f32_gflops);
  }
}

std::string bf16_json(const std::vector<Bf16Row>& layers, const std::vector<GemmRow>& gemms) {
  std::string out = ", \"bf16_layers\": [";
  for (size_t i = 0; i < layers.size(); ++i) {
    char row[256];
    std::snprintf(row, sizeof row,
                  "%s{\"layer\": \"%s\", \"f32_forward_s\": %g, \"bf16_forward_s\": %g, \"max_rel_error\": %g}",
                  i ? ", " : "", layers[i].name.c_str(), layers[i].f32_s, layers[i].bf16_s, layers[i].error);
    out += row;
  }
  out += "], \"gemm_bf16\": [";
  for (size_t i = 0; i < gemms.size(); ++i) {
    const GemmRow& g = gemms[i];
    char row[256];
    std::snprintf(row, sizeof row,
                  "%s{\"gemm\": \"%s\", \"m\": %d, \"n\": %d, \"k\": %d, \"f32_gflops\": %g, \"bf16_gflops\": %g}",
                  i ? ", " : "", g.name.c_str(), g.m, g.n, g.k, g.f32_gflops, g.bf16_gflops);
    out += row;
  }
  return out + "]";
}

// PyTorch's forward and forward+backward times for one layer, as installed and at its best (bench.h).
struct TorchTimes {
  double forward = NAN, forward_tuned = NAN, both = NAN, both_tuned = NAN;
  double faster_forward() const { return std::fmin(forward, forward_tuned); }
  double faster_both() const { return std::fmin(both, both_tuned); }
};

// Runs benchmarks/torch_conv.py for all layers, as installed and in each tuned environment (the allocators: no
// recurrent network here): keys L<i>_forward and L<i>_both; empty when python3-torch is missing.
bench::PeerRuns torch_round(const std::vector<LayerSpec>& layers, int64_t batch, int threads,
                            const std::string& python) {
  std::string specs = "/tmp/nn_conv_kernels_" + std::to_string(::getpid()) + ".txt";
  {
    std::ofstream f(specs);
    for (size_t i = 0; i < layers.size(); ++i) {
      const LayerSpec& l = layers[i];
      f << "L" << i << ' ' << kind_name(l.kind) << ' ' << batch << ' ' << l.h << ' ' << l.w << ' ' << l.cin << ' '
        << l.cout << ' ' << l.k << ' ' << l.s << ' ' << nn::to_string(l.padding) << '\n';
    }
  }
  const bench::PeerRuns runs = bench::run_peer_tuned(
      python + " " + NN_BENCHMARK_DIR + "/torch_conv.py " + std::to_string(threads) + " < " + specs, false);
  std::remove(specs.c_str());
  return runs;
}

// Layer i's times from torch_round's figures (NaN where it did not run).
TorchTimes torch_layer(const bench::PeerRuns& runs, size_t i) {
  const std::string key = std::string("L").append(std::to_string(i));
  return {runs.as_installed(key + "_forward"), runs.at_best(key + "_forward"), runs.as_installed(key + "_both"),
          runs.at_best(key + "_both")};
}

// A number for the JSON output, null when unmeasured.
std::string json_number(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", x);
  return std::isnan(x) ? "null" : text;
}

// Bytes a memory-bound layer (depthwise, pooling) reads and writes once each: input, output, depthwise weights.
double layer_bytes(Kind kind, const Window2D& g) {
  const double in = static_cast<double>(g.n * g.h * g.w * g.c), out = static_cast<double>(g.n * g.oh * g.ow * g.c);
  return 4.0 * (in + out + (kind == Kind::depthwise ? static_cast<double>(g.kh * g.kw * g.c) : 0.0));
}

struct Args {
  int64_t batch = 1;
  int threads = 0;
  int rounds = bench::kDefaultRounds;
  bool json = false, check = true, torch = true;
  std::string python = "/usr/bin/python3";
  bool custom = false;
  LayerSpec layer{"custom", Kind::conv, 0, 0, 0, 0, 3, 1, nn::Padding::same};
};

int usage(int status) {
  std::fprintf(status ? stderr : stdout,
               "usage: conv_kernels [--threads N] [--batch N] [--rounds N] [--json] [--no-check] [--no-torch]\n"
               "                    [--python PATH]\n"
               "                    [--shape H,W,CIN,COUT --kernel K --stride S --padding same|valid\n"
               "                     --kind conv|depthwise|maxpool]\n"
               "Without --shape: the Xception layer shapes. Times are minima over --rounds rounds of PyTorch's\n"
               "measurements and ours, alternated (default %d); GFLOP/s counts 2 per multiply-add.\n",
               bench::kDefaultRounds);
  return status;
}

bool parse(int argc, char** argv, Args& a) {
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw nn::Error("conv_kernels: " + flag + " needs a value");
      return argv[++i];
    };
    auto number = [&](int64_t low, int64_t high) {
      std::string text = value();
      char* end = nullptr;
      long long v = std::strtoll(text.c_str(), &end, 10);
      if (end == text.c_str() || *end != '\0' || v < low || v > high) {
        throw nn::Error("conv_kernels: " + flag + " expects a whole number in [" + std::to_string(low) + ", " +
                        std::to_string(high) + "], got '" + text + "'");
      }
      return static_cast<int64_t>(v);
    };
    if (flag == "--help") return false;
    if (flag == "--threads")
      a.threads = static_cast<int>(number(1, 256));
    else if (flag == "--batch")
      a.batch = number(1, 1024);
    else if (flag == "--rounds")
      a.rounds = static_cast<int>(number(1, 100));
    else if (flag == "--json")
      a.json = true;
    else if (flag == "--no-check")
      a.check = false;
    else if (flag == "--no-torch")
      a.torch = false;
    else if (flag == "--python")
      a.python = value();
    else if (flag == "--kernel")
      a.layer.k = number(1, 64), a.custom = true;
    else if (flag == "--stride")
      a.layer.s = number(1, 64), a.custom = true;
    else if (flag == "--padding") {
      std::string p = value();
      if (p != "same" && p != "valid")
        throw nn::Error("conv_kernels: --padding expects same or valid, got '" + p + "'");
      a.layer.padding = p == "same" ? nn::Padding::same : nn::Padding::valid;
    } else if (flag == "--kind") {
      std::string k = value();
      if (k == "conv")
        a.layer.kind = Kind::conv;
      else if (k == "depthwise")
        a.layer.kind = Kind::depthwise;
      else if (k == "maxpool")
        a.layer.kind = Kind::maxpool;
      else
        throw nn::Error("conv_kernels: --kind expects conv, depthwise or maxpool, got '" + k + "'");
    } else if (flag == "--shape") {
      std::string s = value();
      long long h, w, cin, cout;
      if (std::sscanf(s.c_str(), "%lld,%lld,%lld,%lld", &h, &w, &cin, &cout) != 4 || h < 1 || w < 1 || cin < 1 ||
          cout < 1 || h * w * cin > (1ll << 28)) {
        throw nn::Error("conv_kernels: --shape expects H,W,CIN,COUT (positive, H·W·CIN ≤ 2^28), got '" + s + "'");
      }
      a.layer.h = h, a.layer.w = w, a.layer.cin = cin, a.layer.cout = cout, a.custom = true;
    } else {
      throw nn::Error("conv_kernels: unknown argument '" + flag + "' (see --help)");
    }
  }
  if (a.custom && a.layer.h == 0) throw nn::Error("conv_kernels: --kernel/--stride need --shape H,W,CIN,COUT");
  if (a.layer.kind != Kind::conv) a.layer.cout = a.layer.cin;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  try {
    if (!parse(argc, argv, args)) return usage(0);
  } catch (const nn::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return usage(2);
  }
  try {
    if (args.threads > 0) nn::set_num_threads(args.threads);
    const int threads = nn::num_threads();
    std::vector<LayerSpec> layers = args.custom ? std::vector<LayerSpec>{args.layer} : xception_layers();
    const double peak_before = bench::fma_peak_gflops(threads);
    // Each layer checked against its reference once; then rounds of PyTorch's times and ours, alternated, each
    // figure the best over the rounds.
    std::vector<double> errors(layers.size(), -1), fwd_s(layers.size(), INFINITY), both_s(layers.size(), INFINITY);
    if (args.check) {
      for (size_t i = 0; i < layers.size(); ++i) {
        Buffers b(layers[i], args.batch);
        errors[i] = check_against_reference(layers[i], b);
      }
    }
    bench::PeerRuns peer;
    for (int round = 0; round < args.rounds; ++round) {
      if (args.torch) peer.add_round(torch_round(layers, args.batch, threads, args.python));
      for (size_t i = 0; i < layers.size(); ++i) {
        Buffers b(layers[i], args.batch);
        fwd_s[i] = std::min(fwd_s[i], bench::min_time([&] { forward(layers[i].kind, b); }));
        both_s[i] = std::min(both_s[i], bench::min_time([&] {
                               forward(layers[i].kind, b);
                               backward(layers[i].kind, b);
                             }));
      }
    }
    std::vector<std::string> forward_keys;
    for (size_t i = 0; i < layers.size(); ++i)
      forward_keys.push_back(std::string("L").append(std::to_string(i)).append("_forward"));
    const std::string tuned_by = peer.tuned_names(forward_keys);
    // The peak our fractions are taken of: the higher of two measurements (a busy machine lowers one of them).
    const double peak = std::max(peak_before, bench::fma_peak_gflops(threads));

    std::string json =
        "{\"threads\": " + std::to_string(threads) + ", \"batch\": " + std::to_string(args.batch) + ", \"layers\": [";
    if (!args.json) {
      std::printf(
          "threads %d, batch %lld; times are minima in ms over %d round%s%s; ratio = the faster PyTorch's time / ours "
          "(>1: we are faster);\nmachine: conv GFLOP/s as a fraction of the FMA peak (%.0f GFLOP/s), depthwise and "
          "pooling in GB/s moved\n",
          threads, static_cast<long long>(args.batch), args.rounds, args.rounds == 1 ? "" : "s",
          args.torch ? " (PyTorch's, then ours, alternated)" : "", peak);
      std::printf("%-24s %9s %8s %7s %8s %7s %9s %9s %6s %9s %9s %6s\n", "layer", "check", "fwd", "GFLOP/s", "machine",
                  "sgemm%", "torch fwd", "tuned", "ratio", "fwd+bwd", "torch", "ratio");
    }
    bool all_ok = true;
    for (size_t i = 0; i < layers.size(); ++i) {
      const LayerSpec& l = layers[i];
      Buffers b(l, args.batch);
      const double error = errors[i], fwd = fwd_s[i], both = both_s[i];
      bool ok = error < 1e-4;
      all_ok = all_ok && ok;
      double gflops = forward_flops(l.kind, b.g) / fwd / 1e9;
      double sgemm_fraction = l.kind == Kind::conv ? sgemm_seconds(b.g) / fwd : NAN;
      const TorchTimes torch_t = torch_layer(peer, i);
      const double torch_fwd = torch_t.faster_forward(), torch_both = torch_t.faster_both();
      // Convolutions against the FMA peak; depthwise and pooling are bound by memory: bytes moved per second.
      const double machine = l.kind == Kind::conv ? gflops / peak : layer_bytes(l.kind, b.g) / fwd / 1e9;
      char check_text[32];
      std::snprintf(check_text, sizeof check_text, args.check ? (ok ? "ok %.0e" : "FAIL %.0e") : "skipped", error);
      if (args.json) {
        char row[768];
        std::snprintf(row, sizeof row,
                      "%s{\"layer\": \"%s\", \"kind\": \"%s\", \"max_rel_error\": %g, \"forward_s\": %g, "
                      "\"forward_gflops\": %g, \"%s\": %g, \"sgemm_fraction\": %s, \"torch_forward_s\": %s, "
                      "\"torch_tuned_forward_s\": %s, \"forward_backward_s\": %g, \"torch_forward_backward_s\": %s, "
                      "\"torch_tuned_forward_backward_s\": %s}",
                      i ? ", " : "", l.name.c_str(), kind_name(l.kind), error, fwd, gflops,
                      l.kind == Kind::conv ? "fma_peak_fraction" : "gbytes_per_s", machine,
                      std::isnan(sgemm_fraction) ? "null" : std::to_string(sgemm_fraction).c_str(),
                      json_number(torch_t.forward).c_str(), json_number(torch_t.forward_tuned).c_str(), both,
                      json_number(torch_t.both).c_str(), json_number(torch_t.both_tuned).c_str());
        json += row;
      } else {
        char sgemm_text[16] = "      -";  // depthwise and pooling are no GEMM
        if (!std::isnan(sgemm_fraction)) std::snprintf(sgemm_text, sizeof sgemm_text, "%6.0f%%", sgemm_fraction * 100);
        char machine_text[16];
        std::snprintf(machine_text, sizeof machine_text, l.kind == Kind::conv ? "%5.0f%%" : "%4.1fGB/s",
                      l.kind == Kind::conv ? machine * 100 : machine);
        std::printf("%-24s %9s %8.3f %7.1f %8s %7s %9.3f %9.3f %6.2f %9.3f %9.3f %6.2f\n", l.name.c_str(), check_text,
                    fwd * 1e3, gflops, machine_text, sgemm_text, torch_t.forward * 1e3, torch_t.forward_tuned * 1e3,
                    torch_fwd / fwd, both * 1e3, torch_both * 1e3, torch_both / both);
      }
    }
    std::string bf16_text;
    if (!args.custom) {  // the Xception layers: their bf16 forward, and the pointwise GEMMs
      std::vector<Bf16Row> bf16_rows;
      for (const LayerSpec& l : layers) {
        Buffers b(l, args.batch);
        bf16_rows.push_back(bf16_layer(l, b));
      }
      const std::vector<GemmRow> gemms = xception_gemms();
      if (args.json) {
        bf16_text = bf16_json(bf16_rows, gemms);
      } else {
        print_bf16(bf16_rows, gemms);
      }
    }
    const double peak_after = bench::fma_peak_gflops(threads);
    if (args.json) {
      std::printf("%s]%s, \"fma_peak_gflops_before\": %g, \"fma_peak_gflops_after\": %g, \"all_checks_ok\": %s}\n",
                  json.c_str(), bf16_text.c_str(), peak_before, peak_after, all_ok ? "true" : "false");
    } else {
      std::printf("PyTorch tuned: the best of %s; here %s\n", bench::environment_names(false).c_str(),
                  tuned_by.c_str());
      std::printf("FP32 FMA peak, %d threads: %.0f GFLOP/s before, %.0f after%s\n", threads, peak_before, peak_after,
                  peer.empty() && args.torch ? "; PyTorch peer not found (install python3-torch)" : "");
    }
    return all_ok ? 0 : 1;
  } catch (const nn::Error& e) {
    std::fprintf(stderr, "conv_kernels: %s\n", e.what());
    return 1;
  }
}
