// Argument checks of the bindings that take packed weights (bind_weight_matmul.cpp
// has them; bind_optimizer_step.cpp's fused weight-gradient update shares them).
#pragma once

#include "bind_util.h"
#include "weight_matmul/driver.h"

namespace pbn {

// Float32 matrix with contiguous rows; returns the row stride in elements.
std::size_t check_f32_matrix(const py::array& a, const char* name);
// k: 1 <= k < 2**40.
std::int64_t check_weight_k(const py::handle& k_obj);
// Packed rows of k from pack_signs ("w_bits"), or pack_ternary's pair (sign bits only where nonzero).
driver::WeightBits check_binary(const py::array& w_bits, std::int64_t k, const char* name = "w_bits");
driver::WeightBits check_ternary(const py::array& sign_bits, const py::array& nonzero_bits, std::int64_t k,
                                 const char* sign_name = "sign_bits", const char* nonzero_name = "nonzero_bits");
// Either: binary when `nonzero_bits` is None, else ternary.
driver::WeightBits check_weight_bits(const py::array& sign_bits, const py::object& nonzero_bits, std::int64_t k,
                                     const char* sign_name, const char* nonzero_name);

}  // namespace pbn
