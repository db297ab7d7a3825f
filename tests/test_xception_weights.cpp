// Xception weights found by content (captioning/xception_weights.h) and Flickr8k bundles that stand alone.
#include <doctest/doctest.h>

#include <captioning/xception_weights.h>
