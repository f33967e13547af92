// Bindings of xnor_gemm and its masked form: checks, then xnor_gemm/driver.h.
#include <climits>
#include <memory>

#include "bind_util.h"
#include "xnor_gemm/driver.h"

namespace pbn {

namespace {

constexpr const char* kWhyInt32 = "the int32 result could overflow (k <= 2**31 - 1)";

// The optional float epilogue: scale (a Python number) and bias (float32, one per row of b_bits).
// Null when both are None: the result stays int32.
std::unique_ptr<driver::Affine> epilogue_of(const py::object& scale, const py::object& bias, std::size_t n) {
  if (scale.is_none() && bias.is_none()) return nullptr;
  return std::make_unique<driver::Affine>(affine_arg(scale, bias, n, "row of b_bits"));
}

// int32 dot products, or float32 ones through the epilogue: both are 4 bytes, so the kernel writes the int32s
// into the float32 result, which the epilogue converts chunk by chunk.
py::array new_product(std::size_t m, std::size_t n, bool as_float) {
  if (as_float) return new_result<float>({m, n}, "the result (rows of a_bits x rows of b_bits)");
  return new_result<std::int32_t>({m, n}, "the result (rows of a_bits x rows of b_bits)");
}

py::array xnor_gemm(const py::array& a_bits, const py::array& b_bits, const py::handle& k_obj,
                    const std::string& isa_name, const py::object& scale, const py::object& bias) {
  const Target target = resolve_target(isa_name);
  const PackedOperands o = check_packed_operands(a_bits, b_bits, k_obj, kWhyInt32);
  const auto epilogue = epilogue_of(scale, bias, o.n);
  py::array out = new_product(o.m, o.n, epilogue != nullptr);
  if (o.m == 0 || o.n == 0) return out;
  auto* c = static_cast<std::int32_t*>(out.mutable_data());
  py::gil_scoped_release release;
  driver::xnor_gemm(target, o.a, o.lda, o.b, o.ldb, c, o.n, o.m, o.n, o.k, epilogue.get());
  return out;
}

py::array xnor_gemm_masked(const py::array& a_bits, const py::array& b_bits, const py::handle& k_obj,
                           const py::array& mask, const std::string& isa_name, const py::object& scale,
                           const py::object& bias) {
  const Target target = resolve_target(isa_name);
  const PackedOperands o = check_packed_operands(a_bits, b_bits, k_obj, kWhyInt32);
  require_dtype<std::uint64_t>(mask, "mask", "uint64 (the nonzero bits of pack_ternary)");
  require_ndim(mask, "mask", 2);
  if (mask.shape(0) != a_bits.shape(0) || mask.shape(1) != a_bits.shape(1))
    throw py::value_error("mask must have the shape of a_bits " + shape_str(a_bits) + ", got " + shape_str(mask));
  const std::size_t ldm = check_packed_rows(mask, "mask", o.k);  // contiguous rows, zero padding
  const auto epilogue = epilogue_of(scale, bias, o.n);
  py::array out = new_product(o.m, o.n, epilogue != nullptr);
  if (o.m == 0 || o.n == 0) return out;
  const auto* mk = static_cast<const word_t*>(mask.data());
  auto* c = static_cast<std::int32_t*>(out.mutable_data());
  py::gil_scoped_release release;
  driver::xnor_gemm_masked(target, o.a, o.lda, mk, ldm, o.b, o.ldb, c, o.n, o.m, o.n, o.k, epilogue.get());
  return out;
}

// The bit-plane first layer from packed planes (pack_bit_planes: plane p of pixel row i at row p * M + i)
// and the weights' row sums (weight_row_sums): the exact int32 x @ W.T.
py::array bitplane_matmul(const py::array& planes, const py::array& w_bits, const py::handle& k_obj,
                          const py::array& w_sums, const std::string& isa_name) {
  const Target target = resolve_target(isa_name);
  const PackedOperands o = check_packed_operands(planes, w_bits, k_obj, "255 * k must fit the int32 result (k < 2**22)",
                                                 (std::int64_t(1) << 22) - 1, "planes", "w_bits");
  const std::int64_t k = o.k;
  const std::size_t rows = o.m, n = o.n;
  if (rows % 8)
    throw py::value_error("planes must hold 8 bit planes per pixel row (pack_bit_planes: 8 * M rows), got " +
                          std::to_string(rows) + " rows");
  const std::size_t m = rows / 8;
  const auto* sums = per_output<std::int32_t>(w_sums, "w_sums", "int32", n, "row of w_bits");
  for (std::size_t j = 0; j < n; ++j)  // k - 2 * (number of -1 weights): anything else is not a row sum
    if (sums[j] > k || sums[j] < -k || (k - sums[j]) % 2)
      throw py::value_error("w_sums[" + std::to_string(j) + "] = " + std::to_string(sums[j]) +
                            " is not the sum of a row of k = " + std::to_string(k) + " +-1 weights");
  py::array out = new_result<std::int32_t>({m, n}, "the result (pixel rows x rows of w_bits)");
  if (m == 0 || n == 0) return out;
  auto* c = static_cast<std::int32_t*>(out.mutable_data());
  py::gil_scoped_release release;
  driver::bitplane_matmul(target, o.a, o.lda, o.b, o.ldb, sums, c, n, m, n, k);
  return out;
}

}  // namespace

void bind_xnor_gemm(py::module_& m) {
  m.def("xnor_gemm", &xnor_gemm, py::arg("a_bits"), py::arg("b_bits"), py::arg("k"), py::arg("isa") = "",
        py::arg("scale") = py::none(), py::arg("bias") = py::none(),
        R"pbdoc(sign(A) @ sign(B).T from packed rows; float32 * scale + bias with either (see pybitnet.xnor_gemm).)pbdoc");
  m.def("xnor_gemm_masked", &xnor_gemm_masked, py::arg("a_bits"), py::arg("b_bits"), py::arg("k"), py::arg("mask"),
        py::arg("isa") = "", py::arg("scale") = py::none(), py::arg("bias") = py::none(),
        R"pbdoc(T @ sign(B).T for ternary T = sign(A) * mask from packed rows (see pybitnet.xnor_gemm).)pbdoc");
  m.def("bitplane_matmul", &bitplane_matmul, py::arg("planes"), py::arg("w_bits"), py::arg("k"), py::arg("w_sums"),
        py::arg("isa") = "",
        R"pbdoc(Exact int32 x @ W.T from the packed bit planes of uint8 x (see pybitnet.first_layer.bitplane_matmul).)pbdoc");
}

}  // namespace pbn
