// Bindings of xnor_gemm and its masked form: checks, then xnor_gemm/driver.h.
#include <climits>

#include "bind_util.h"
#include "xnor_gemm/driver.h"

namespace pbn {

namespace {

constexpr const char* kWhyInt32 = "the int32 result could overflow (k <= 2**31 - 1)";

py::array_t<std::int32_t> xnor_gemm(const py::array& a_bits, const py::array& b_bits, const py::handle& k_obj,
                                    const std::string& isa_name) {
  const Target target = resolve_target(isa_name);
  const PackedOperands o = check_packed_operands(a_bits, b_bits, k_obj, kWhyInt32);
  py::array_t<std::int32_t> out = new_result<std::int32_t>({o.m, o.n}, "the result (rows of a_bits x rows of b_bits)");
  if (o.m == 0 || o.n == 0) return out;
  std::int32_t* c = out.mutable_data();
  py::gil_scoped_release release;
  driver::xnor_gemm(target, o.a, o.lda, o.b, o.ldb, c, o.n, o.m, o.n, o.k);
  return out;
}

py::array_t<std::int32_t> xnor_gemm_masked(const py::array& a_bits, const py::array& b_bits, const py::handle& k_obj,
                                           const py::array& mask, const std::string& isa_name) {
  const Target target = resolve_target(isa_name);
  const PackedOperands o = check_packed_operands(a_bits, b_bits, k_obj, kWhyInt32);
  require_dtype<std::uint64_t>(mask, "mask", "uint64 (the nonzero bits of pack_ternary)");
  require_ndim(mask, "mask", 2);
  if (mask.shape(0) != a_bits.shape(0) || mask.shape(1) != a_bits.shape(1))
    throw py::value_error("mask must have the shape of a_bits " + shape_str(a_bits) + ", got " + shape_str(mask));
  const std::size_t ldm = check_packed_rows(mask, "mask", o.k);  // contiguous rows, zero padding
  py::array_t<std::int32_t> out({py::ssize_t(o.m), py::ssize_t(o.n)});
  if (o.m == 0 || o.n == 0) return out;
  const auto* mk = static_cast<const word_t*>(mask.data());
  std::int32_t* c = out.mutable_data();
  py::gil_scoped_release release;
  driver::xnor_gemm_masked(target, o.a, o.lda, mk, ldm, o.b, o.ldb, c, o.n, o.m, o.n, o.k);
  return out;
}

}  // namespace

void bind_xnor_gemm(py::module_& m) {
  m.def("xnor_gemm", &xnor_gemm, py::arg("a_bits"), py::arg("b_bits"), py::arg("k"), py::arg("isa") = "",
        R"pbdoc(sign(A) @ sign(B).T from packed rows (see pybitnet.xnor_gemm).)pbdoc");
  m.def("xnor_gemm_masked", &xnor_gemm_masked, py::arg("a_bits"), py::arg("b_bits"), py::arg("k"), py::arg("mask"),
        py::arg("isa") = "",
        R"pbdoc(T @ sign(B).T for ternary T = sign(A) * mask from packed rows (see pybitnet.xnor_gemm).)pbdoc");
}

}  // namespace pbn
