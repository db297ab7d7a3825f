/// @file
/// The progress line of long captioning stages (feature extraction): nn::Progress (nn/train/progress.h).
#pragma once

#include <nn/train/progress.h>

namespace captioning {

using Progress = nn::Progress;

}  // namespace captioning
