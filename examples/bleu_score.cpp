// bleu_score: corpus BLEU-1…4 (NLTK's corpus_bleu) of generated captions against reference captions.
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <captioning/bleu.h>
#include <nn/error.h>

namespace {

int usage(int status) {
  std::fprintf(status ? stderr : stdout,
               "usage: bleu_score HYPOTHESES REFERENCES [--json]\n"
               "Both files hold lines 'IMAGE_ID caption words…'; REFERENCES may hold several lines per image (as\n"
               "train_flickr8k's descriptions.txt does). Every hypothesis is scored against all references of its\n"
               "image. Prints BLEU-1 to BLEU-4 at corpus level (NLTK's corpus_bleu, no smoothing).\n");
  return status;
}

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
  std::vector<std::string> files;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help") return usage(0);
    if (arg == "--json") json = true;
    else if (!arg.empty() && arg[0] == '-') {
      std::fprintf(stderr, "bleu_score: unknown argument '%s'\n", arg.c_str());
      return usage(2);
    } else {
      files.push_back(arg);
    }
  }
  if (files.size() != 2) return usage(2);
  try {
    std::map<std::string, std::vector<captioning::Tokens>> references;
    for (auto& [id, words] : read_lines(files[1])) references[id].push_back(std::move(words));
    std::vector<std::vector<captioning::Tokens>> refs;
    std::vector<captioning::Tokens> hyps;
    for (auto& [id, words] : read_lines(files[0])) {
      auto it = references.find(id);
      if (it == references.end()) throw nn::Error(files[0] + ": image '" + id + "' has no reference in " + files[1]);
      refs.push_back(it->second);
      hyps.push_back(std::move(words));
    }
    if (hyps.empty()) throw nn::Error(files[0] + ": no hypotheses");
    std::array<double, 4> b = captioning::corpus_bleu(refs, hyps);
    if (json) {
      std::printf("{\"bleu1\": %.6f, \"bleu2\": %.6f, \"bleu3\": %.6f, \"bleu4\": %.6f, \"sentences\": %zu}\n", b[0],
                  b[1], b[2], b[3], hyps.size());
    } else {
      std::printf("BLEU-1 %.4f\nBLEU-2 %.4f\nBLEU-3 %.4f\nBLEU-4 %.4f\n(%zu captions)\n", b[0], b[1], b[2], b[3],
                  hyps.size());
    }
  } catch (const nn::Error& e) {
    std::fprintf(stderr, "bleu_score: %s\n", e.what());
    return 1;
  }
  return 0;
}
