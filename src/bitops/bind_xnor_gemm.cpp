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

}  // namespace

void bind_xnor_gemm(py::module_& m) {
  m.def("xnor_gemm", &xnor_gemm, py::arg("a_bits"), py::arg("b_bits"), py::arg("k"), py::arg("isa") = "",
        py::arg("scale") = py::none(), py::arg("bias") = py::none(),
        R"pbdoc(sign(A) @ sign(B).T from packed rows; float32 * scale + bias with either (see pybitnet.xnor_gemm).)pbdoc");
  m.def("xnor_gemm_masked", &xnor_gemm_masked, py::arg("a_bits"), py::arg("b_bits"), py::arg("k"), py::arg("mask"),
        py::arg("isa") = "", py::arg("scale") = py::none(), py::arg("bias") = py::none(),
        R"pbdoc(T @ sign(B).T for ternary T = sign(A) * mask from packed rows (see pybitnet.xnor_gemm).)pbdoc");
}

}  // namespace pbn
