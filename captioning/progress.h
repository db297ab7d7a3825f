/// @file
/// The progress line of long captioning stages (feature extraction): nn::Progress (nn/train/progress.h).
#pragma once

#include <nn/train/progress.h>

namespace captioning {

/// The progress line of the captioning programs: nn::Progress (nn/train/progress.h).
using Progress = nn::Progress;

}  // namespace captioning
