#include "captioning/speech/coarticulation.h"

namespace speech {
namespace {

// Loci by place, adult male, rounded from Delattre, Liberman & Cooper (1955: F2 loci near 720 Hz labial, 1800 Hz
// alveolar, high for velars before front vowels) and Sussman et al. (1991). F1's locus is the closed tract's
// ~200 Hz, with k 0: a stop pulls F1 all the way down at the boundary. A nasal keeps its own murmur F1; its F2
// and F3 follow its oral place. The factors keep the locus equations' order (alveolar onsets stay nearest their
// locus, labial ones move most with the vowel) but lie below their slopes, and the transitions (labial fastest,
// velar slowest: Kewley-Port 1982) are 28-45 ms rather than 40-65: with Sussman's slopes and 40-65 ms the
// benchmark's WER on 50 captions rose from 0.268 to 0.304-0.322; these measure 0.301 on 200 captions (0.302 before).
constexpr Locus kLabial{{200, 800, 2200}, {0.0f, 0.625f, 0.4f}, 28, 18};
constexpr Locus kAlveolar{{200, 1850, 2700}, {0.0f, 0.175f, 0.25f}, 35, 18};
constexpr Locus kVelar{{220, 2300, 2450}, {0.0f, 0.55f, 0.4f}, 45, 18};

Locus nasal(Locus place, float f1) {
  place.hz[0] = f1;
  place.k[0] = 0;
  return place;
}

}  // namespace

std::optional<Locus> locus_of(Phoneme p) {
  using P = Phoneme;
  switch (p) {
    case P::P:
    case P::B:
      return kLabial;
    case P::M:
      return nasal(kLabial, phoneme_info(p).f1);
    case P::T:
    case P::D:
      return kAlveolar;
    case P::N:
      return nasal(kAlveolar, phoneme_info(p).f1);
    case P::K:
    case P::G:
      return kVelar;
    case P::NG:
      return nasal(kVelar, phoneme_info(p).f1);
    default:
      return std::nullopt;
  }
}

std::array<float, 3> boundary_formants(const Locus& locus, const std::array<float, 3>& vowel) {
  std::array<float, 3> out{};
  for (size_t k = 0; k < 3; ++k) out[k] = locus.hz[k] + locus.k[k] * (vowel[k] - locus.hz[k]);
  return out;
}

}  // namespace speech
