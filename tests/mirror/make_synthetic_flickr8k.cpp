// Writes a small synthetic shapes world in the Flickr8k layout (images/*.jpg, text/Flickr8k.token.txt and the three
// split files): the loopback-mirror test zips it up as a stand-in for the real Flickr8k archives.
//   make_synthetic_flickr8k DIR TRAIN DEV TEST
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "captioning/synthetic.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: make_synthetic_flickr8k DIR TRAIN DEV TEST\n");
    return 2;
  }
  try {
    captioning::write_synthetic_flickr8k(
        argv[1], {.train = std::atoi(argv[2]), .dev = std::atoi(argv[3]), .test = std::atoi(argv[4]), .seed = 19});
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_synthetic_flickr8k: %s\n", e.what());
    return 1;
  }
  return 0;
}
