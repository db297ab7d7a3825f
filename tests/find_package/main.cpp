// A program outside the libnn tree — the README's example — built against the installed library: fits
// y = 2x − 1 with one Dense unit, saves it, loads it back, and reports the loss before and after; links the Keras
// weight reader (nn::keras); describes the installed sample image with the installed model (nn::captioning) and
// speaks the caption (nn::speech). Run with the install prefix as its argument.
#include <cstdio>
#include <string>

#include <captioning/describer.h>
#include <captioning/speech/speech.h>
#include <nn/io/keras_h5.h>
#include <nn/nn.h>

namespace {

bool fits_a_line() {
  nn::manual_seed(1);
  nn::Dense layer({.in = 1, .out = 1});
  nn::Adam adam(layer.named_parameters(), {.lr = 0.1f});
  nn::Tensor x = nn::Tensor::from_data({4, 1}, {-1, 0, 1, 2});
  nn::Tensor y = nn::Tensor::from_data({4, 1}, {-3, -1, 1, 3});  // y = 2x − 1
  float first = 0;
  for (int step = 0; step < 300; ++step) {
    nn::Tensor diff = layer(x) - y;
    nn::Tensor loss = nn::mean(diff * diff);
    if (step == 0) first = loss.item();
    adam.zero_grad();
    loss.backward();
    adam.step();
  }
  nn::save("line.nnck", layer);
  nn::Dense restored({.in = 1, .out = 1});
  nn::load("line.nnck", restored);
  nn::Tensor diff = restored(x) - y;
  float last = nn::mean(diff * diff).item();
  std::printf("outside project: loss %.4f -> %.6f\n", first, last);
  return last < 1e-4f && restored.kernel().item() > 1.99f && restored.kernel().item() < 2.01f;
}

bool keras_reader_links() {
  try {
    nn::read_keras_h5("missing.h5");
  } catch (const nn::Error& e) {
    return std::string(e.what()) == "missing.h5: is not a file";
  }
  return false;
}

// The installed model and sample: the caption names the sample's three shapes, and is spoken for over a second.
bool describes_and_speaks(const std::string& prefix) {
  captioning::Describer describer(prefix + "/share/libnn/shapes.nnck");
  const std::string caption = describer.describe_file(prefix + "/share/libnn/sample_shapes.jpg").front().text;
  const std::vector<int16_t> pcm = speech::synthesize(caption, {});
  std::printf("outside project: caption '%s', %zu samples of speech\n", caption.c_str(), pcm.size());
  return caption.find("yellow triangle") != std::string::npos && caption.find("red circle") != std::string::npos &&
         pcm.size() > 16000;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: outside_project INSTALL_PREFIX\n");
    return 2;
  }
  const bool ok = fits_a_line() && keras_reader_links() && describes_and_speaks(argv[1]) &&
                  std::string(nn::version()) == NN_VERSION;
  std::printf("outside project: libnn %s %s\n", nn::version(), ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
