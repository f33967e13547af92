// Binding of the shift-add weight gradient dequantize_pow2(codes).T @ g, in
// float (exponent-field adds) or fixed point (int32 shifts): checks, then
// shift/driver.h (which also owns the fixed-point scale).
#include "bind_util.h"
#include "shift/driver.h"
#include "shift/pow2_code.h"

namespace pbn {

namespace {

struct Operands {
  std::size_t m, k, n, ldc, ldg;
};

Operands check_operands(const py::array& codes, const py::array& g) {
  require_dtype<std::int8_t>(codes, "codes", "int8 (from quantize_pow2)");
  require_ndim(codes, "codes", 2);
  require_dtype<float>(g, "g", "float32");
  require_ndim(g, "g", 2);
  if (codes.shape(0) != g.shape(0))
    throw py::value_error("codes has M=" + std::to_string(codes.shape(0)) + " rows but g has M=" +
                          std::to_string(g.shape(0)) + "; shapes " + shape_str(codes) + " and " + shape_str(g));
  Operands o{std::size_t(codes.shape(0)), std::size_t(codes.shape(1)), std::size_t(g.shape(1)), 0, 0};
  // Empty arrays can carry any strides; they are never read.
  o.ldc = codes.size() ? row_stride(codes, "codes") : o.k;
  o.ldg = g.size() ? row_stride(g, "g") : o.n;
  const auto* c = static_cast<const std::int8_t*>(codes.data());
  for (std::size_t i = 0; i < o.m; ++i)
    for (std::size_t j = 0; j < o.k; ++j)
      if (c[i * o.ldc + j] == kPow2Invalid)
        throw py::value_error("codes contains -128, which is not a power-of-two code");
  return o;
}

py::array_t<float> shift_matmul(const py::array& codes, const py::array& g, const std::string& method,
                                const std::string& isa_name) {
  const Target target = resolve_target(isa_name);
  if (method != "float" && method != "fixed")
    throw py::value_error("method must be 'float' or 'fixed', got '" + method + "'");
  const Operands o = check_operands(codes, g);
  py::array_t<float> out = new_result<float>({o.k, o.n}, "the result (columns of codes x columns of g)");
  const auto* c = static_cast<const std::int8_t*>(codes.data());
  const auto* gp = static_cast<const float*>(g.data());
  float* dst = out.mutable_data();
  py::gil_scoped_release release;
  if (method == "float")
    driver::shift_matmul(target, c, o.ldc, gp, o.ldg, dst, o.n, o.m, o.k, o.n);
  else
    driver::shift_matmul_fixed(target, c, o.ldc, gp, o.ldg, dst, o.n, o.m, o.k, o.n);
  return out;
}

}  // namespace

void bind_shift_matmul(py::module_& m) {
  m.def("shift_matmul", &shift_matmul, py::arg("codes"), py::arg("g"), py::arg("method") = "float",
        py::arg("isa") = "", R"pbdoc(dequantize_pow2(codes).T @ g by shifts and adds (see pybitnet.shift_matmul).)pbdoc");
  m.def("shift_matmul_frac_bits", [](const py::array& codes, const py::array& g) {
    const Operands o = check_operands(codes, g);
    return driver::shift_matmul_frac_bits(static_cast<const std::int8_t*>(codes.data()), o.ldc,
                                          static_cast<const float*>(g.data()), o.ldg, o.m, o.k, o.n);
  }, py::arg("codes"), py::arg("g"), "The fraction bits F method='fixed' uses for these operands.");
}

}  // namespace pbn
