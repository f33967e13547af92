// Binding of the float32 transpose (layout/): checks, then layout/driver.h.
#include "bind_util.h"
#include "layout/driver.h"

namespace pbn {

namespace {

// a.T of a 2-D C-contiguous float32 array, as a new C-contiguous array.
py::array_t<float> transpose(const py::array& a, const std::string& isa_name) {
  const Target target = resolve_target(isa_name);
  require_dtype<float>(a, "a", "float32");
  require_ndim(a, "a", 2);
  require_c_contiguous(a, "a");
  const std::size_t m = std::size_t(a.shape(0)), n = std::size_t(a.shape(1));
  py::array_t<float> out = new_result<float>({n, m}, "the transpose");
  if (m == 0 || n == 0) return out;
  const auto* ap = static_cast<const float*>(a.data());
  float* op = out.mutable_data();
  {
    py::gil_scoped_release release;
    driver::transpose(target, ap, n, op, m, m, n);
  }
  return out;
}

}  // namespace

void bind_transpose(py::module_& m) {
  m.def("transpose", &transpose, py::arg("a"), py::arg("isa") = "",
        R"pbdoc(a.T of a 2-D C-contiguous float32 array as a new C-contiguous array (see pybitnet.layout).)pbdoc");
}

}  // namespace pbn
