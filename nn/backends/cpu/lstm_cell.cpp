// The LSTM step's pointwise kernels: the active instruction-set level's (lstm_cell_fast.cpp).
#include "nn/backends/cpu/lstm_cell.h"

namespace nn::kernels {

void lstm_step_forward(const LstmStep& s, const float* mask, float* gates, const float* c_prev, const float* h_prev,
                       float* c, float* h) {
  with_active_isa([&]<Isa isa> { lstm_step_forward<isa>(s, mask, gates, c_prev, h_prev, c, h); });
}

void lstm_step_backward(const LstmStep& s, const float* mask, const float* gates, const float* c, const float* c_prev,
                        float* dh, float* dc, float* d_gates) {
  with_active_isa([&]<Isa isa> { lstm_step_backward<isa>(s, mask, gates, c, c_prev, dh, dc, d_gates); });
}

}  // namespace nn::kernels
