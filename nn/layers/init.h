/// @file
/// Initialisers, as Keras defines them.
#pragma once

#include "nn/core/random.h"
#include "nn/core/tensor.h"

/// Weight initialisers (Keras's names and formulas); layers call them, programs rarely need to.
namespace nn::init {

/// Uniform in ±sqrt(6 / (fan_in + fan_out)); fans as Keras computes them (for a kernel (kh,kw,in,out):
/// fan_in = kh·kw·in, fan_out = kh·kw·out; for a matrix (in,out)).
Tensor glorot_uniform(const Shape& shape, Generator& gen);
/// An orthogonal matrix (rows = product of all but the last extent): Keras's Orthogonal(gain=1) — QR of a normal
/// matrix, columns' signs fixed by R's diagonal.
Tensor orthogonal(const Shape& shape, Generator& gen);
/// Uniform in [low, high) (Keras's RandomUniform; Embedding's default is ±0.05).
Tensor uniform(const Shape& shape, float low, float high, Generator& gen);

}  // namespace nn::init
