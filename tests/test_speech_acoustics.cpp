// nn::speech acoustics (issue 21), each checked against a published property of natural speech rather than the
// synthesiser's own output: stop bursts peak in the band of their place of articulation (Stevens & Blumstein
// 1978), voice-onset time is longer for voiceless stops than voiced ones (Lisker & Abramson 1964), nasal murmurs
// carry the nasal pole and zero and little energy above the first formant, and formant tracks move continuously
// across phoneme boundaries while the voice is on (articulators move at finite speed).
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <complex>
#include <string>
#include <vector>

#include <captioning/speech/klatt.h>
#include <captioning/speech/lexicon.h>
#include <captioning/speech/prosody.h>
#include <captioning/speech/speech.h>
#include <captioning/speech/text.h>

using namespace speech;

namespace {

constexpr float kFrameMs = 5.0f;
constexpr int kRate = 16000;

// The segments of `text`, words as the library's front end hands them to prosody (with their written form).
std::vector<Segment> segments_of(const char* text) {
  std::vector<SpokenWord> words;
  for (const Token& t : normalize(text))
    words.push_back({t.word.empty() ? Pronunciation{} : pronounce(t.word).phones, t.pause, t.word});
  return plan_segments(words, ProsodyOptions{});
}

std::vector<Frame> frames_of(const char* text) {
  return make_frames(segments_of(text), ProsodyOptions{});
}

// Index of the first segment of word n (from 0) of the segments.
size_t word_start(const std::vector<Segment>& seg, size_t n) {
  for (size_t i = 0; i < seg.size(); ++i)
    if (!seg[i].pause && seg[i].word_initial && n-- == 0) return i;
  FAIL("no word " << n);
  return 0;
}

// Index of the first frame at or after `from` whose frication is on.
size_t first_frication(const std::vector<Frame>& frames, size_t from = 0) {
  for (size_t i = from; i < frames.size(); ++i)
    if (frames[i].frication_db > 0) return i;
  return frames.size();
}

// The last frame whose frication switches on (a stop's burst in "a pa", after the /s/ in "a spa").
size_t last_frication_onset(const std::vector<Frame>& frames) {
  size_t onset = frames.size();
  for (size_t i = 1; i < frames.size(); ++i)
    if (frames[i].frication_db > 0 && frames[i - 1].frication_db <= 0) onset = i;
  REQUIRE(onset < frames.size());
  return onset;
}

// Energy (dB) of samples x in the band [lo, hi) Hz, by a direct DFT at 25 Hz steps.
double band_db(const std::vector<float>& x, double lo, double hi) {
  double sum = 0;
  for (double hz = lo; hz < hi; hz += 25) {
    std::complex<double> s = 0;
    for (size_t n = 0; n < x.size(); ++n) {
      const double window = 0.5 - 0.5 * std::cos(2 * M_PI * static_cast<double>(n) / static_cast<double>(x.size()));
      s += window * x[n] * std::polar(1.0, -2 * M_PI * hz * static_cast<double>(n) / kRate);
    }
    sum += std::norm(s);
  }
  return 10 * std::log10(sum / ((hi - lo) / 25) + 1e-20);
}

// The first `ms` of the burst of the stop in "a ?a" (the samples from its first frame with frication).
std::vector<float> burst_of(const char* text, float ms) {
  const std::vector<Frame> frames = frames_of(text);
  const size_t burst = first_frication(frames);
  REQUIRE(burst < frames.size());
  const std::vector<float> wave = render_frames(frames, {.sample_rate = kRate, .frame_ms = kFrameMs});
  const size_t begin = burst * static_cast<size_t>(kFrameMs * kRate / 1000);
  return {wave.begin() + static_cast<long>(begin), wave.begin() + static_cast<long>(begin + ms * kRate / 1000)};
}

}  // namespace

TEST_CASE("stop bursts: labial diffuse and low, alveolar high, velar compact in the middle") {
  // Bands: low 500-1500 Hz, mid 1500-3500 Hz (F2-F3, where a velar burst's compact peak sits), high 3500-7000 Hz.
  struct Bands {
    double low, mid, high;
  };
  auto bands = [](const char* text) {
    const std::vector<float> b = burst_of(text, 10);
    return Bands{band_db(b, 500, 1500), band_db(b, 1500, 3500), band_db(b, 3500, 7000)};
  };
  for (const char* labial : {"a pa", "a ba"}) {
    const Bands b = bands(labial);
    INFO(std::string(labial) << ": low " << b.low << " mid " << b.mid << " high " << b.high << " dB");
    CHECK(b.low > b.high);  // diffuse-falling: no rise towards the high frequencies
  }
  for (const char* alveolar : {"a ta", "a da"}) {
    const Bands b = bands(alveolar);
    INFO(std::string(alveolar) << ": low " << b.low << " mid " << b.mid << " high " << b.high << " dB");
    CHECK(b.high > b.mid);  // diffuse-rising
    CHECK(b.high > b.low + 10);
  }
  for (const char* velar : {"a ka", "a ga"}) {
    const Bands b = bands(velar);
    INFO(std::string(velar) << ": low " << b.low << " mid " << b.mid << " high " << b.high << " dB");
    CHECK(b.mid > b.low);  // compact: one mid-frequency peak
    CHECK(b.mid > b.high);
  }
}

TEST_CASE("voice-onset time: long lag for voiceless stops, short for voiced ones and for a voiceless stop after /s/") {
  // Lisker & Abramson (1964), English word-initial stops: /p t k/ 58-80 ms, /b d g/ 1-21 ms; unaspirated after /s/.
  auto vot_ms = [](const char* text) {
    const std::vector<Frame> frames = frames_of(text);
    const size_t burst = last_frication_onset(frames);
    size_t voice = burst;
    while (voice < frames.size() && frames[voice].voicing_db < 50) ++voice;
    REQUIRE(voice < frames.size());
    return static_cast<float>(voice - burst) * kFrameMs;
  };
  for (const char* voiceless : {"a pa", "a ta", "a ka"}) {
    INFO(voiceless);
    CHECK(vot_ms(voiceless) >= 35);
  }
  for (const char* voiced : {"a ba", "a da", "a ga"}) {
    INFO(voiced);
    CHECK(vot_ms(voiced) <= 25);
  }
  CHECK(vot_ms("a ta") > vot_ms("a da") + 20);
  CHECK(vot_ms("a spa") <= 25);
}

TEST_CASE("nasal murmur: the nasal zero moves off the nasal pole, and the murmur's energy lies below 500 Hz") {
  for (const char* text : {"a ma", "a na"}) {
    INFO(std::string(text));
    const std::vector<Frame> frames = frames_of(text);
    size_t murmur = frames.size();  // the middle frame of the nasal
    for (size_t i = 0, begin = 0; i < frames.size(); ++i) {
      if (frames[i].nasal_zero_hz < 400)
        begin = i + 1;
      else if (i + 1 == frames.size() || frames[i + 1].nasal_zero_hz < 400) {
        murmur = (begin + i) / 2;
        break;
      }
    }
    REQUIRE(murmur < frames.size());
    const Frame nasal = frames[murmur];
    size_t first = murmur, last = murmur;  // the final /a/: the middle of its frames at full voicing
    while (first < frames.size() && frames[first].voicing_db < 59) ++first;
    for (last = first; last + 1 < frames.size() && frames[last + 1].voicing_db >= 59;) ++last;
    REQUIRE(first < frames.size());
    const Frame vowel = frames[(first + last) / 2];
    REQUIRE(vowel.nasal_zero_hz == doctest::Approx(270));  // cancels the nasal pole: no nasality in the vowel
    auto steady = [](const Frame& f) {                     // 300 ms of one frame, the first 100 ms (onset) dropped
      std::vector<float> w = render_frames(std::vector<Frame>(60, f), {.sample_rate = kRate, .frame_ms = kFrameMs});
      return std::vector<float>(w.begin() + kRate / 10, w.end());
    };
    const std::vector<float> m = steady(nasal), v = steady(vowel);
    const double murmur_tilt = band_db(m, 100, 500) - band_db(m, 1000, 3000);
    const double vowel_tilt = band_db(v, 100, 500) - band_db(v, 1000, 3000);
    INFO("murmur: " << murmur_tilt << " dB more below 500 Hz than in 1-3 kHz; vowel: " << vowel_tilt);
    CHECK(murmur_tilt > vowel_tilt + 10);
    // The zero: a dip at FNZ against the same murmur with the zero put back on the pole.
    Frame no_zero = nasal;
    no_zero.nasal_zero_hz = 270;
    const std::vector<float> z = steady(no_zero);
    const double dip = band_db(m, nasal.nasal_zero_hz - 50, nasal.nasal_zero_hz + 50) -
                       band_db(z, nasal.nasal_zero_hz - 50, nasal.nasal_zero_hz + 50);
    INFO("zero at " << nasal.nasal_zero_hz << " Hz: " << dip << " dB");
    CHECK(dip < -6);
  }
}

TEST_CASE("formant tracks are continuous across phoneme boundaries while the voice is on") {
  // Neighbouring targets lie 300-1600 Hz apart (F3 of /r/ 1380 Hz, of /iy/ 2960 Hz); natural transitions take
  // 30-80 ms. A jump — a boundary without a transition — moves a formant by hundreds of Hz within one 5-ms frame;
  // a transition of at least ~40 ms (1.5 × its mean slope at the steepest point of a smooth step) stays under
  // 200 Hz a frame for these distances.
  const std::vector<Frame> frames = frames_of("a brown dog runs through the green grass near a fence, with a cap");
  size_t voiced_pairs = 0;
  for (size_t i = 1; i < frames.size(); ++i) {
    if (frames[i].voicing_db < 45 || frames[i - 1].voicing_db < 45) continue;
    ++voiced_pairs;
    for (size_t k = 0; k < 3; ++k) {
      INFO("F" << k + 1 << " at " << static_cast<float>(i) * kFrameMs << " ms: " << frames[i - 1].formant[k] << " -> "
               << frames[i].formant[k]);
      CHECK(std::abs(frames[i].formant[k] - frames[i - 1].formant[k]) <= 200);
    }
  }
  CHECK(voiced_pairs > 300);  // the sentence's voiced stretches were checked
}

TEST_CASE("the female voice speaks about 0.85 octave higher with higher formants") {
  // F0 by autocorrelation over the loudest 40-ms windows (lags 2.5 … 14 ms: 70 … 400 Hz); a formant shift by the
  // ratio of the energy above 1.5 kHz to the energy below it, both in the spoken vowel-rich sentence.
  auto measure = [](Voice voice) {
    const std::vector<int16_t> pcm = synthesize("a man runs along a long wall", {.voice = voice});
    const size_t window = kRate / 25;
    std::vector<std::pair<double, double>> f0_by_energy;  // (energy, F0)
    for (size_t at = 0; at + window + kRate / 70 < pcm.size(); at += window / 2) {
      double energy = 0, best = -1;
      size_t best_lag = 0;
      for (size_t n = 0; n < window; ++n) energy += double(pcm[at + n]) * pcm[at + n];
      for (size_t lag = kRate / 400; lag <= kRate / 70; ++lag) {
        double r = 0;
        for (size_t n = 0; n < window; ++n) r += double(pcm[at + n]) * pcm[at + n + lag];
        if (r > best) best = r, best_lag = lag;
      }
      f0_by_energy.emplace_back(energy, double(kRate) / double(best_lag));
    }
    std::sort(f0_by_energy.rbegin(), f0_by_energy.rend());
    std::vector<double> f0;
    for (size_t i = 0; i < f0_by_energy.size() / 3; ++i) f0.push_back(f0_by_energy[i].second);
    std::sort(f0.begin(), f0.end());
    std::vector<float> x(pcm.begin(), pcm.end());
    const double high_over_low = band_db(x, 1500, 4000) - band_db(x, 100, 1500);
    return std::pair{f0[f0.size() / 2], high_over_low};
  };
  const auto [male_f0, male_tilt] = measure(Voice::Male);
  const auto [female_f0, female_tilt] = measure(Voice::Female);
  INFO("F0 " << male_f0 << " -> " << female_f0 << " Hz; energy above 1.5 kHz " << male_tilt << " -> " << female_tilt);
  CHECK(male_f0 == doctest::Approx(110).epsilon(0.25));
  CHECK(female_f0 / male_f0 == doctest::Approx(1.8).epsilon(0.15));
  CHECK(female_tilt > male_tilt);
}

TEST_CASE("a /t d/ between a vowel and an unstressed vowel is a flap: voiced throughout, no burst") {
  // American English: "water", "lady", "little" (before its syllabic /l/) with a tap (Kahn 1976; Zue &
  // Laferriere 1979: 10-40 ms, voiced), against the aspirated /t/ before a stressed vowel in "a tap".
  auto voice_gap_and_bursts = [](const char* text) {
    const std::vector<Frame> frames = frames_of(text);
    size_t first = 0, last = frames.size() - 1;  // from the first to the last voiced frame
    while (first < frames.size() && frames[first].voicing_db < 45) ++first;
    while (last > first && frames[last].voicing_db < 45) --last;
    size_t unvoiced = 0, bursts = 0;
    for (size_t i = first; i <= last; ++i) {
      unvoiced += frames[i].voicing_db < 45;
      bursts += frames[i].frication_db > 0;
    }
    return std::pair{unvoiced, bursts};
  };
  for (const char* flapped : {"water", "lady", "little"}) {
    INFO(std::string(flapped));
    const auto [unvoiced, bursts] = voice_gap_and_bursts(flapped);
    CHECK(unvoiced == 0);
    CHECK(bursts == 0);
  }
  const auto [unvoiced, bursts] = voice_gap_and_bursts("a tap");
  CHECK(unvoiced * kFrameMs >= 40);  // closure and aspiration
  CHECK(bursts > 0);
}

TEST_CASE("a repeated content word is deaccented: its stressed vowel has no pitch accent the second time") {
  // Given information is deaccented (Halliday 1967; Ladd 1996): the second "dog" of "a dog chases a dog" is not a
  // pitch peak, while a first mention in the same place ("a cat chases a dog") is.
  auto dog_f0 = [](const char* text) {
    std::vector<float> f0;
    for (const Segment& s : segments_of(text))
      if (!s.pause && s.phoneme == Phoneme::AO && s.stress == 1) f0.push_back(s.f0_hz);
    return f0;
  };
  const std::vector<float> repeated = dog_f0("a dog chases a dog in the park");
  const std::vector<float> new_word = dog_f0("a cat chases a dog in the park");
  REQUIRE(repeated.size() == 2);
  REQUIRE(new_word.size() == 1);
  INFO("second dog " << repeated[1] << " Hz, first mention there " << new_word[0] << " Hz");
  CHECK(repeated[1] < 0.93f * new_word[0]);  // an accent is a rise of 10 % or more over the baseline
  CHECK(repeated[0] > 1.1f * repeated[1]);
}

TEST_CASE("a prepositional phrase starts a minor phrase: F0 resets and the syllable before it lengthens, no pause") {
  // Minor phrase boundaries (Ladd 1996; Wightman et al. 1992): the baseline partly resets after the boundary, the
  // syllable before it is lengthened, and no pause is needed. Word 3 ends in an unaccented syllable, word 4 is
  // the preposition, which starts with an unaccented consonant.
  for (const char* caption : {"a dog is running through the grass", "a boy is playing with a ball",
                              "a cat is sleeping beside a dog", "a man is standing near the water"}) {
    INFO(std::string(caption));
    const std::vector<Segment> seg = segments_of(caption);
    const size_t start = word_start(seg, 4);
    CHECK_FALSE(seg[start - 1].pause);
    CHECK(seg[start].f0_hz > 1.03f * seg[start - 1].f0_hz);  // declination alone would fall here
  }
  // Against the same words with a numeral in place of the preposition: one phrase, declination falling through.
  const std::vector<Segment> phrase = segments_of("a dog is running through the grass");
  const std::vector<Segment> control = segments_of("a dog is running three the grass");
  const size_t start = word_start(phrase, 4), control_start = word_start(control, 4);
  CHECK(control[control_start].f0_hz < control[control_start - 1].f0_hz);
  // The last vowel of "running" (IH0 before NG).
  const float lengthened = phrase[start - 2].duration_ms, plain = control[control_start - 2].duration_ms;
  REQUIRE(phrase[start - 2].phoneme == Phoneme::IH);
  REQUIRE(control[control_start - 2].phoneme == Phoneme::IH);
  INFO("IH of running: " << plain << " ms in one phrase, " << lengthened << " ms before the boundary");
  CHECK(lengthened > 1.15f * plain);
}

TEST_CASE("a word-final schwa + /l/ or /n/ after a consonant is a syllabic /l/ or /n/") {
  // American English "bottle", "little", "button" end in a syllabic consonant with no vowel before it (Ladefoged
  // 2006), as long as a syllable: longer than the /l/ or /n/ closing "ball" or "bun" in the same place.
  auto final_consonant = [](const char* text, size_t word) {
    const std::vector<Segment> seg = segments_of(text);
    size_t end = word_start(seg, word + 1);  // the next word's start: the segment before it ends our word
    return std::pair{seg[end - 1], seg[end - 2]};
  };
  const float plain_l = final_consonant("a ball here", 1).first.duration_ms;
  const float plain_n = final_consonant("a bun here", 1).first.duration_ms;
  for (const char* text : {"a bottle here", "a little one"}) {
    INFO(std::string(text));
    const auto [l, before] = final_consonant(text, 1);
    REQUIRE(l.phoneme == Phoneme::L);
    CHECK(before.phoneme != Phoneme::AX);
    CHECK(l.duration_ms > 1.5f * plain_l);
  }
  const auto [n, before] = final_consonant("a button here", 1);
  REQUIRE(n.phoneme == Phoneme::N);
  CHECK(before.phoneme != Phoneme::AX);
  CHECK(n.duration_ms > 1.5f * plain_n);
  // After a vowel-like /m/ the schwa stays ("lemon").
  CHECK(final_consonant("a lemon here", 1).second.phoneme == Phoneme::AX);
}

TEST_CASE("CV transitions start between the stop's locus and the vowel, ordered as the locus equations predict") {
  // Locus equations (Lindblom 1963; Sussman et al. 1991): F2 at a stop's release = k·F2(vowel) + c, with slopes
  // near 0.8 for /b/ and 0.4 for /d/ — a labial onset follows the vowel more than an alveolar one does; Delattre
  // et al. (1955): the alveolar locus ~1800 Hz lies between /i/'s and /u/'s F2, so /d/'s onsets move towards it from
  // both sides. The vowel still reaches its own steady state in its middle.
  struct Onset {
    float onset, middle;  // F2 at the vowel's first frame and at its middle
  };
  auto f2 = [](const char* text) {
    const std::vector<Segment> seg = segments_of(text);
    const std::vector<Frame> frames = make_frames(seg, ProsodyOptions{});
    float t = 0;
    for (const Segment& s : seg) {
      if (!s.pause && is_vowel(s.phoneme) && s.stress == 1) {
        // The first frame whose centre ((i + 0.5) × 5 ms) lies at or after `ms`.
        const auto frame = [&](float ms) {
          return frames[static_cast<size_t>(std::ceil(ms / kFrameMs - 0.5f))].formant[1];
        };
        return Onset{frame(t), frame(t + 0.5f * s.duration_ms)};
      }
      t += s.duration_ms;
    }
    FAIL("no stressed vowel in " << text);
    return Onset{};
  };
  const Onset di = f2("a deed"), du = f2("a dude"), bi = f2("a bead"), bu = f2("a booed");
  INFO("F2 onset/middle: deed " << di.onset << "/" << di.middle << ", dude " << du.onset << "/" << du.middle
                                << ", bead " << bi.onset << "/" << bi.middle << ", booed " << bu.onset << "/"
                                << bu.middle);
  CHECK(di.middle == doctest::Approx(phoneme_info(Phoneme::IY).f2).epsilon(0.01));  // steady states reached
  CHECK(du.middle == doctest::Approx(phoneme_info(Phoneme::UW).f2).epsilon(0.01));
  CHECK(bi.middle == doctest::Approx(phoneme_info(Phoneme::IY).f2).epsilon(0.01));
  CHECK(bu.middle == doctest::Approx(phoneme_info(Phoneme::UW).f2).epsilon(0.01));
  // /d/: both onsets between the alveolar locus region (1700-1900 Hz) and the vowel, /u/'s far from its vowel.
  CHECK(di.onset < di.middle);
  CHECK(di.onset > 1700);
  CHECK(du.onset > du.middle + 300);
  CHECK(du.onset < 1900);
  CHECK(di.onset > du.onset);  // a positive slope
  // /b/: a low locus (~700-900 Hz): onsets below both vowels' F2 and below /d/'s, and a steeper slope than /d/'s.
  CHECK(bi.onset < bi.middle - 100);
  CHECK(bu.onset < bu.middle);
  CHECK(bi.onset < di.onset);
  CHECK(bu.onset < du.onset);
  const float slope_b = (bi.onset - bu.onset) / (bi.middle - bu.middle);
  const float slope_d = (di.onset - du.onset) / (di.middle - du.middle);
  INFO("slopes: /b/ " << slope_b << ", /d/ " << slope_d);
  CHECK(slope_b > slope_d + 0.2f);
  CHECK(slope_d > 0.05f);
}

TEST_CASE("function words take no pitch accent: their F0 peak lies below the next content word's") {
  // In a neutral reading accents fall on content words, not on articles, prepositions, auxiliaries or pronouns
  // (Ladd 1996; Hirschberg 1993), even though declination lowers each later word: the preposition's stressed
  // vowel lies below the following noun's, and the auxiliary's below the verb's.
  auto stressed_f0 = [](const char* text) {
    std::vector<float> f0;  // each word's primary-stressed vowel, in order
    for (const Segment& s : segments_of(text))
      if (!s.pause && is_vowel(s.phoneme) && s.stress == 1) f0.push_back(s.f0_hz);
    return f0;
  };
  // dog, is, run(ning), on, grass, near, tree
  const std::vector<float> a = stressed_f0("a dog is running on the grass near a tree");
  REQUIRE(a.size() == 7);
  INFO("dog " << a[0] << ", is " << a[1] << ", running " << a[2] << ", on " << a[3] << ", grass " << a[4] << " Hz");
  CHECK(a[1] < 0.95f * a[2]);  // "is" below "running"
  CHECK(a[3] < 0.95f * a[4]);  // "on" below "grass"
  // boy, plays, park, with, his, dog ("in" is unstressed in the dictionary)
  const std::vector<float> b = stressed_f0("a boy plays in the park with his dog");
  REQUIRE(b.size() == 6);
  INFO("park " << b[2] << ", with " << b[3] << ", his " << b[4] << " Hz");
  CHECK(b[3] < 0.95f * b[2]);
  CHECK(b[4] < 0.95f * b[2]);
}

TEST_CASE("the nasal zero depends on place: the murmur's spectral dip lies lower for /m/ than for /n/") {
  // The closed oral side branch is longer for /m/ than for /n/, so its antiresonance is lower: /m/ ~750-1000 Hz,
  // /n/ ~1450-2000 Hz (Fujimura 1962; Stevens 1998). The dip: the 50-Hz band in 500-2500 Hz where the murmur is
  // weakest against the same murmur with its zero put back on the nasal pole (which cancels it).
  auto dip_hz = [](const char* text) {
    const std::vector<Frame> frames = frames_of(text);
    size_t begin = frames.size(), end = 0;  // the nasal: frames with its zero away from the pole
    for (size_t i = 0; i < frames.size(); ++i)
      if (frames[i].nasal_zero_hz > 400) begin = std::min(begin, i), end = i;
    REQUIRE(end > begin);
    auto steady = [](const Frame& f) {
      std::vector<float> w = render_frames(std::vector<Frame>(40, f), {.sample_rate = kRate, .frame_ms = kFrameMs});
      return std::vector<float>(w.begin() + kRate / 10, w.end());
    };
    Frame murmur = frames[(begin + end) / 2], cancelled = murmur;
    cancelled.nasal_zero_hz = 270;
    const std::vector<float> with = steady(murmur), without = steady(cancelled);
    double best = 1e9, at = 0;
    for (double hz = 500; hz < 2500; hz += 50)
      if (const double db = band_db(with, hz, hz + 50) - band_db(without, hz, hz + 50); db < best)
        best = db, at = hz + 25;
    return at;
  };
  const double m = dip_hz("a ma"), n = dip_hz("a na");
  INFO("dip of /m/ at " << m << " Hz, of /n/ at " << n << " Hz");
  CHECK(m >= 650);
  CHECK(m <= 1100);
  CHECK(n >= 1350);
  CHECK(n <= 2100);
  CHECK(m < n);
}
