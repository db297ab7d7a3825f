// bleu_score: corpus BLEU-1…4 (NLTK's corpus_bleu) of generated captions against reference captions.
#include <captioning/bleu.h>
#include <nn/core/error.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "cli.h"

namespace {

// (id, words) per non-empty line.
std::vector<std::pair<std::string, captioning::Tokens>> read_lines(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw nn::Error(path + ": cannot open");
  std::vector<std::pair<std::string, captioning::Tokens>> out;
  std::string line;
  while (std::getline(in, line)) {
    captioning::Tokens words = captioning::split_words(line);
    if (words.empty()) continue;
    std::string id = words.front();
    words.erase(words.begin());
    out.emplace_back(id, std::move(words));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string hypotheses, references_file;
  bool json = false;
  cli::Parser cli("bleu_score",
                  "Prints BLEU-1 to BLEU-4 at corpus level (NLTK's corpus_bleu, no smoothing). Both files hold lines\n"
                  "'IMAGE_ID caption words…'; REFERENCES may hold several lines per image (as train_flickr8k's\n"
                  "descriptions.txt does). Every hypothesis is scored against all references of its image.");
  cli.positional("HYPOTHESES", hypotheses, "the generated captions");
  cli.positional("REFERENCES", references_file, "the reference captions");
  cli.flag("--json", json, "print one JSON object instead of lines");
  if (auto status = cli.parse(argc, argv)) return *status;
  try {
    std::map<std::string, std::vector<captioning::Tokens>> references;
    for (auto& [id, words] : read_lines(references_file)) references[id].push_back(std::move(words));
    std::vector<std::vector<captioning::Tokens>> refs;
    std::vector<captioning::Tokens> hyps;
    for (auto& [id, words] : read_lines(hypotheses)) {
      auto it = references.find(id);
      if (it == references.end())
        throw nn::Error(hypotheses + ": image '" + id + "' has no reference in " + references_file);
      refs.push_back(it->second);
      hyps.push_back(std::move(words));
    }
    if (hyps.empty()) throw nn::Error(hypotheses + ": no hypotheses");
    std::array<double, 4> b = captioning::corpus_bleu(refs, hyps);
    if (json) {
      std::printf("{\"bleu1\": %.6f, \"bleu2\": %.6f, \"bleu3\": %.6f, \"bleu4\": %.6f, \"sentences\": %zu}\n", b[0],
                  b[1], b[2], b[3], hyps.size());
    } else {
      std::printf("BLEU-1 %.4f\nBLEU-2 %.4f\nBLEU-3 %.4f\nBLEU-4 %.4f\n(%zu captions)\n", b[0], b[1], b[2], b[3],
                  hyps.size());
    }
  } catch (const std::exception& e) {
    return cli.error(e);
  }
  return 0;
}
