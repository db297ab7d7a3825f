#include "captioning/evaluation.h"

#include "captioning/bleu.h"
#include "captioning/flickr8k.h"
#include "captioning/synthetic.h"

namespace captioning {

SplitEvaluation evaluate_split(Describer& describer, const std::filesystem::path& data_dir, Split split, int beam) {
  const Flickr8kPaths paths = find_flickr8k(data_dir);
  ReadReport report;
  Descriptions captions = clean_descriptions(read_token_file(paths.token_file, report), report);
  const auto& split_file = split == Split::train ? paths.train_split
                           : split == Split::dev ? paths.dev_split
                                                 : paths.test_split;
  SplitEvaluation result;
  std::vector<std::vector<Tokens>> references;
  std::vector<Tokens> hypotheses;
  for (const std::string& id : read_split(split_file, captions, report)) {
    const std::string caption = describer.describe_file(paths.images / (id + ".jpg"), beam).front().text;
    hypotheses.push_back(split_words(caption));
    references.emplace_back();
    for (const std::string& r : captions[id]) references.back().push_back(split_words(r));
    const bool named = names_every_object(caption, captions[id].front());
    const int objects = count_objects(captions[id].front());
    const size_t k = objects >= 1 && objects <= 3 ? static_cast<size_t>(objects) : 0;
    result.all_objects_named += named;
    ++result.images_with[k];
    result.all_named_with[k] += named;
  }
  result.images = hypotheses.size();
  if (!hypotheses.empty()) result.bleu = corpus_bleu(references, hypotheses);
  return result;
}

}  // namespace captioning
