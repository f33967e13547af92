// Bindings of the sign activation and its straight-through gradient (act/ste_sign_body.h): checks, then
// act/driver.h.
#include "act/driver.h"
#include "bind_util.h"

namespace pbn {

namespace {

std::vector<std::size_t> shape_of(const py::array& a) {
  std::vector<std::size_t> s;
  for (py::ssize_t d = 0; d < a.ndim(); ++d) s.push_back(std::size_t(a.shape(d)));
  return s;
}

py::tuple ste_sign(const py::array& x, bool inclusive, const std::string& isa_name) {
  const Target target = resolve_target(isa_name);
  require_dtype<float>(x, "x", "float32");
  require_c_contiguous(x, "x");
  const std::size_t n = std::size_t(x.size());
  py::array_t<float> y = new_result<float>(shape_of(x), "y");
  py::array_t<word_t> gate = new_result<word_t>({words_for(n)}, "the gate");
  if (n == 0) return py::make_tuple(y, gate);
  const auto* xp = static_cast<const float*>(x.data());
  float* yp = y.mutable_data();
  word_t* gp = gate.mutable_data();
  {
    py::gil_scoped_release release;
    driver::ste_sign(target, xp, yp, gp, n, inclusive);
  }
  return py::make_tuple(y, gate);
}

py::array_t<float> ste_sign_backward(const py::array& grad, const py::array& gate, const std::string& isa_name) {
  const Target target = resolve_target(isa_name);
  require_dtype<float>(grad, "grad", "float32");
  require_c_contiguous(grad, "grad");
  require_dtype<word_t>(gate, "gate", "uint64 (from ste_sign)");
  require_ndim(gate, "gate", 1);
  require_c_contiguous(gate, "gate");
  const std::size_t n = std::size_t(grad.size());
  if (std::size_t(gate.shape(0)) != words_for(n))
    throw py::value_error("gate has " + std::to_string(gate.shape(0)) + " words but grad has " + std::to_string(n) +
                          " elements (needs ceil(n/64) = " + std::to_string(words_for(n)) + ")");
  py::array_t<float> dx = new_result<float>(shape_of(grad), "dx");
  if (n == 0) return dx;
  const auto* gp = static_cast<const float*>(grad.data());
  const auto* bp = static_cast<const word_t*>(gate.data());
  float* dp = dx.mutable_data();
  {
    py::gil_scoped_release release;
    driver::ste_sign_backward(target, gp, bp, dp, n);
  }
  return dx;
}

}  // namespace

void bind_ste_sign(py::module_& m) {
  m.def("ste_sign", &ste_sign, py::arg("x"), py::arg("inclusive") = true, py::arg("isa") = "",
        R"pbdoc((sign(x) as +-1 float32, gate bits of |x| <= 1 (or < 1)) (see pybitnet.ste_ops).)pbdoc");
  m.def("ste_sign_backward", &ste_sign_backward, py::arg("grad"), py::arg("gate"), py::arg("isa") = "",
        R"pbdoc(grad where the gate bit is set, else grad * 0 (see pybitnet.ste_ops).)pbdoc");
}

}  // namespace pbn
