#include "captioning/speech/klatt.h"

#include <algorithm>
#include <cmath>

namespace speech {
namespace {

constexpr float kPi = 3.14159265358979f;
constexpr float kVoiceGain = 10.0f;

float db_to_gain(float db) {
  return db <= 0 ? 0.0f : std::pow(10.0f, (db - 60.0f) / 20.0f);
}

// Deterministic uniform noise in [−1, 1) (xorshift32).
class Noise {
 public:
  explicit Noise(uint32_t seed) : state_(seed ? seed : 1) {}
  float operator()() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    return static_cast<float>(state_) / 2147483648.0f - 1.0f;
  }

 private:
  uint32_t state_;
};

// The KLGLOTT88 glottal flow over one period: u(t) = a t² − b t³ while open (peak 1 at t = ⅔ of the open phase),
// zero while closed, scaled by the voicing amplitude. F0 and the amplitude are taken at the start of each period
// (pitch-synchronously, as Klatt 1980 does): the flow is zero there, so a change of amplitude never steps the
// flow, whose steps the formants would ring with as clicks at every voicing onset and offset.
class GlottalSource {
 public:
  explicit GlottalSource(float sample_rate, float open_quotient) : rate_(sample_rate), open_quotient_(open_quotient) {}
  float operator()(float f0, float amplitude) {
    if (t_ >= period_) {  // a new period takes the current F0 and amplitude
      t_ = 0;
      period_ = std::max(2.0f, rate_ / std::max(f0, 20.0f));
      open_ = open_quotient_ * period_;
      amplitude_ = amplitude;
    }
    const float t = t_++;
    if (t >= open_) return 0.0f;
    const float x = t / open_;
    return amplitude_ * 6.75f * x * x * (1.0f - x);  // 27/4 · x²(1−x): peak 1 at x = 2/3
  }

 private:
  float rate_, open_quotient_;
  float t_ = 1e9f, period_ = 0, open_ = 0, amplitude_ = 0;
};

}  // namespace

void Resonator::set(float frequency_hz, float bandwidth_hz, float sample_rate) {
  const float t = 1.0f / sample_rate;
  c_ = -std::exp(-2.0f * kPi * bandwidth_hz * t);
  b_ = 2.0f * std::exp(-kPi * bandwidth_hz * t) * std::cos(2.0f * kPi * frequency_hz * t);
  a_ = 1.0f - b_ - c_;
}

void AntiResonator::set(float frequency_hz, float bandwidth_hz, float sample_rate) {
  Resonator r;  // its transfer function, inverted: x = (y − b·y₋₁ − c·y₋₂) / a
  r.set(frequency_hz, bandwidth_hz, sample_rate);
  a_ = 1.0f / r.a();
  b_ = -r.b() / r.a();
  c_ = -r.c() / r.a();
}

std::vector<float> render_frames(const std::vector<Frame>& frames, const SynthesizerOptions& options) {
  const float fs = static_cast<float>(options.sample_rate);
  const float nyquist_margin = 0.45f * fs;  // formants above this are left out (the 11 kHz rate drops F5, F6)
  const int frame_samples = std::max(1, static_cast<int>(std::lround(options.frame_ms * fs / 1000.0f)));
  std::vector<float> out;
  out.reserve(frames.size() * static_cast<size_t>(frame_samples));

  GlottalSource glottis(fs, options.open_quotient);
  Noise noise(options.noise_seed);
  Resonator nasal_pole;
  AntiResonator nasal_zero;
  std::array<Resonator, 5> cascade;
  std::array<Resonator, 5> parallel;  // F2 … F6
  float tilt_state = 0, noise_state = 0, previous = 0;
  nasal_pole.set(270, 100, fs);

  for (const Frame& f : frames) {
    nasal_zero.set(f.nasal_zero_hz, 100, fs);
    for (int k = 0; k < 5; ++k)
      cascade[static_cast<size_t>(k)].set(std::min(f.formant[k], nyquist_margin), f.bandwidth[k], fs);
    // Parallel resonators scaled to about unit gain at their peak (the unity-DC resonator peaks near F/B).
    std::array<float, 5> parallel_gain{};
    for (int k = 0; k < 5; ++k) {
      const float freq = k < 4 ? f.formant[static_cast<size_t>(k + 1)] : 4900.0f;
      const float bw = k < 4 ? std::max(f.bandwidth[static_cast<size_t>(k + 1)], 150.0f) : 400.0f;
      parallel[static_cast<size_t>(k)].set(std::min(freq, nyquist_margin), bw, fs);
      parallel_gain[static_cast<size_t>(k)] =
          freq < nyquist_margin ? db_to_gain(f.parallel_db[static_cast<size_t>(k)]) * bw / freq : 0.0f;
    }
    const float bypass = db_to_gain(f.parallel_db[5]);
    const float av = db_to_gain(f.voicing_db), ah = db_to_gain(f.aspiration_db), af = db_to_gain(f.frication_db);

    for (int n = 0; n < frame_samples; ++n) {
      const float pulse = glottis(f.f0, av);
      tilt_state = (1.0f - options.spectral_tilt) * pulse + options.spectral_tilt * tilt_state;
      noise_state = 0.5f * noise() + 0.5f * noise_state;  // gently low-passed noise (the radiation lifts it again)
      // Voicing and aspiration through the cascade; aspiration is halved while the glottis is closed.
      float x = kVoiceGain * tilt_state + ah * noise_state * (pulse > 0 || av == 0 ? 1.0f : 0.5f) * 0.25f;
      x = nasal_pole(nasal_zero(x));
      for (int k = 4; k >= 0; --k) x = cascade[static_cast<size_t>(k)](x);
      // Frication through the parallel bank, alternating signs so the branches do not cancel between peaks.
      const float fric = af * noise_state;
      float p = bypass * fric;
      for (int k = 0; k < 5; ++k) {
        const float y = parallel[static_cast<size_t>(k)](fric) * parallel_gain[static_cast<size_t>(k)];
        p += (k % 2 == 0) ? y : -y;
      }
      const float sum = x + p;
      out.push_back(sum - previous);  // radiation at the lips: a first difference
      previous = sum;
    }
  }
  return out;
}

}  // namespace speech
