// Bindings of the power-of-two quantizer and dequantizer (pow2/pow2_code.h
// documents the int8 code).
#include "bind_util.h"
#include "shift/driver.h"
#include "shift/pow2_code.h"

namespace pbn {

namespace {

int checked_exp(const py::object& v, const char* name, int dflt) {
  if (v.is_none()) return dflt;
  if (!PyLong_Check(v.ptr()) || PyBool_Check(v.ptr()))
    throw py::type_error(std::string(name) + " must be an int or None, got " + std::string(py::str(py::type::of(v))));
  int overflow = 0;
  const long long e = PyLong_AsLongLongAndOverflow(v.ptr(), &overflow);  // no pybind cast error for 2**70
  if (overflow || e < kPow2MinExp || e > kPow2MaxExp)
    throw py::value_error(std::string(name) + "=" + std::string(py::str(v)) + " is outside the codes' exponent range [" +
                          std::to_string(kPow2MinExp) + ", " + std::to_string(kPow2MaxExp) + "]");
  return int(e);
}

py::array quantize_pow2(const py::array& x, bool stochastic, const py::object& min_exp, const py::object& max_exp,
                        std::uint64_t seed, const std::string& isa_name) {
  const Target target = resolve_target(isa_name);
  require_dtype<float>(x, "x", "float32");
  require_c_contiguous(x, "x");
  const int lo = checked_exp(min_exp, "min_exp", kPow2MinExp), hi = checked_exp(max_exp, "max_exp", kPow2MaxExp);
  if (lo > hi)
    throw py::value_error("min_exp=" + std::to_string(lo) + " is greater than max_exp=" + std::to_string(hi));
  py::array_t<std::int8_t> out(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
  const std::size_t n = std::size_t(x.size());
  const auto* src = static_cast<const float*>(x.data());
  std::int8_t* dst = out.mutable_data();
  bool nan;
  {
    py::gil_scoped_release release;
    nan = driver::quantize_pow2(target, src, dst, n, stochastic, lo, hi, seed);
  }
  if (nan) throw py::value_error("x contains NaN, which has no power-of-two code");
  return out;
}

py::array dequantize_pow2(const py::array& codes, const std::string& isa_name) {
  const Target target = resolve_target(isa_name);
  require_dtype<std::int8_t>(codes, "codes", "int8 (from quantize_pow2)");
  require_c_contiguous(codes, "codes");
  py::array_t<float> out(std::vector<py::ssize_t>(codes.shape(), codes.shape() + codes.ndim()));
  const std::size_t n = std::size_t(codes.size());
  const auto* src = static_cast<const std::int8_t*>(codes.data());
  float* dst = out.mutable_data();
  bool bad;
  {
    py::gil_scoped_release release;
    bad = driver::dequantize_pow2(target, src, dst, n);
  }
  if (bad) throw py::value_error("codes contains -128, which is not a power-of-two code");
  return out;
}

}  // namespace

void bind_pow2(py::module_& m) {
  m.def("quantize_pow2", &quantize_pow2, py::arg("x"), py::arg("stochastic") = true, py::arg("min_exp") = py::none(),
        py::arg("max_exp") = py::none(), py::arg("seed") = 0, py::arg("isa") = "",
        R"pbdoc(float32 -> int8 power-of-two codes (see pybitnet.quantize_pow2).)pbdoc");
  m.def("dequantize_pow2", &dequantize_pow2, py::arg("codes"), py::arg("isa") = "",
        R"pbdoc(int8 power-of-two codes -> float32 (see pybitnet.dequantize_pow2).)pbdoc");
  m.attr("POW2_MIN_EXP") = kPow2MinExp;
  m.attr("POW2_MAX_EXP") = kPow2MaxExp;
}

}  // namespace pbn
