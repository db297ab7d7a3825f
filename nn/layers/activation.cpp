#include "nn/layers/activation.h"

#include <sstream>

namespace nn {

namespace {

// "0.2", not std::to_string's "0.200000".
std::string number(float value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

}  // namespace

ReLU::ReLU()
    : ActivationLayer(
          "ReLU()", [](const Tensor& x) { return relu(x); }, [] { return std::make_shared<ReLU>(); }) {}

LeakyReLU::LeakyReLU(float slope)
    : ActivationLayer(
          "LeakyReLU(negative_slope=" + number(slope) + ")", [slope](const Tensor& x) { return leaky_relu(x, slope); },
          [slope] { return std::make_shared<LeakyReLU>(slope); }) {}

ELU::ELU(float alpha)
    : ActivationLayer(
          "ELU(alpha=" + number(alpha) + ")", [alpha](const Tensor& x) { return elu(x, alpha); },
          [alpha] { return std::make_shared<ELU>(alpha); }) {}

GELU::GELU()
    : ActivationLayer(
          "GELU()", [](const Tensor& x) { return gelu(x); }, [] { return std::make_shared<GELU>(); }) {}

SiLU::SiLU()
    : ActivationLayer(
          "SiLU()", [](const Tensor& x) { return silu(x); }, [] { return std::make_shared<SiLU>(); }) {}

Sigmoid::Sigmoid()
    : ActivationLayer(
          "Sigmoid()", [](const Tensor& x) { return sigmoid(x); }, [] { return std::make_shared<Sigmoid>(); }) {}

Tanh::Tanh()
    : ActivationLayer(
          "Tanh()", [](const Tensor& x) { return tanh(x); }, [] { return std::make_shared<Tanh>(); }) {}

Softmax::Softmax(int axis)
    : ActivationLayer(
          "Softmax(axis=" + std::to_string(axis) + ")", [axis](const Tensor& x) { return softmax(x, axis); },
          [axis] { return std::make_shared<Softmax>(axis); }) {}

}  // namespace nn
