// A Klatt-style cascade/parallel formant synthesiser (Klatt 1980): a glottal flow source (KLGLOTT88 pulses with a
// spectral-tilt low-pass), aspiration noise, the cascade nasal zero and pole and formants F5 … F1 for voiced and
// aspirated sounds, a parallel bank F2 … F6 plus a bypass for frication, and a radiation difference at the lips.
// It renders parameter frames (one every frame_ms, usually 5 ms), interpolating nothing: smoothing is the
// frame builder's job.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace speech {

// A two-pole resonator with unity gain at 0 Hz: y[n] = a·x[n] + b·y[n−1] + c·y[n−2] (Klatt 1980, eq. 2).
class Resonator {
 public:
  void set(float frequency_hz, float bandwidth_hz, float sample_rate);
  float operator()(float x) {
    const float y = a_ * x + b_ * y1_ + c_ * y2_;
    y2_ = y1_;
    y1_ = y;
    return y;
  }
  float a() const { return a_; }
  float b() const { return b_; }
  float c() const { return c_; }

 private:
  float a_ = 1, b_ = 0, c_ = 0, y1_ = 0, y2_ = 0;
};

// The matching two-zero antiresonator: the inverse of Resonator with the same frequency and bandwidth.
class AntiResonator {
 public:
  void set(float frequency_hz, float bandwidth_hz, float sample_rate);
  float operator()(float x) {
    const float y = a_ * x + b_ * x1_ + c_ * x2_;
    x2_ = x1_;
    x1_ = x;
    return y;
  }

 private:
  float a_ = 1, b_ = 0, c_ = 0, x1_ = 0, x2_ = 0;
};

// One frame of synthesis parameters. Amplitudes in dB (60 = full strength, ≤ 0 = off), frequencies in Hz.
struct Frame {
  float f0 = 100;
  float voicing_db = 0;     // AV
  float aspiration_db = 0;  // AH
  float frication_db = 0;   // AF
  std::array<float, 5> formant{500, 1500, 2500, 3300, 3750};
  std::array<float, 5> bandwidth{60, 90, 150, 250, 200};
  float nasal_zero_hz = 270;           // FNZ: 270 cancels the nasal pole; ~450 during nasal murmur
  std::array<float, 6> parallel_db{};  // A2 … A6 and AB (bypass) of the frication branch
};

struct SynthesizerOptions {
  int sample_rate = 16000;
  float frame_ms = 5.0f;
  float open_quotient = 0.6f;  // share of a glottal period the glottis is open
  float spectral_tilt = 0.0f;  // source low-pass coefficient, 0 (none) … 0.9 (very soft)
  uint32_t noise_seed = 12345;
};

// Renders frames to samples in about [−1, 1] before normalisation (frames.size() × frame length samples).
std::vector<float> render_frames(const std::vector<Frame>& frames, const SynthesizerOptions& options);

}  // namespace speech
