// Binding of the fused optimizer update (optimizer_step/optimizer_step_body.h).
#include "bind_util.h"
#include "optimizer_step/driver.h"

namespace pbn {

namespace {

float* float_buffer(const py::object& a, const char* name, std::size_t size, bool required) {
  if (a.is_none()) {
    if (required) throw py::value_error(std::string(name) + " is required by this optimizer");
    return nullptr;
  }
  // An array, never a converted temporary: the update is in place.
  if (!py::isinstance<py::array>(a)) throw py::type_error(std::string(name) + " must be a float32 numpy array");
  auto arr = py::reinterpret_borrow<py::array>(a);
  require_dtype<float>(arr, name, "float32");
  require_c_contiguous(arr, name);
  if (std::size_t(arr.size()) != size)
    throw py::value_error(std::string(name) + " has " + std::to_string(arr.size()) + " elements, w has " +
                          std::to_string(size));
  if (!arr.writeable()) throw py::value_error(std::string(name) + " must be writeable");
  return static_cast<float*>(arr.mutable_data());
}

void optimizer_step(const std::string& kind, const py::object& w, const py::object& g, const py::object& m,
                    const py::object& v, float lr, float b1, float b2, float eps, float lr_scale,
                    const py::object& clip, const std::string& isa_name) {
  const Target target = resolve_target(isa_name);
  static const char* kinds[] = {"sgd", "momentum", "adam", "adamax", "shift_adamax"};
  int k = -1;
  for (int i = 0; i < 5; ++i)
    if (kind == kinds[i]) k = i;
  if (k < 0) throw py::value_error("kind must be sgd, momentum, adam, adamax or shift_adamax, got '" + kind + "'");
  if (!py::isinstance<py::array>(w)) throw py::type_error("w must be a float32 numpy array");
  const std::size_t n = std::size_t(py::reinterpret_borrow<py::array>(w).size());
  OptimStep s{OptimKind(k), lr, b1, b2, eps, lr_scale, clip.is_none() ? 0.0f : py::cast<float>(clip),
              clip.is_none() ? 0 : 1};
  float* wp = float_buffer(w, "w", n, true);
  const float* gp = float_buffer(g, "g", n, true);
  float* mp = float_buffer(m, "m", n, k >= 1);
  float* vp = float_buffer(v, "v", n, k >= 2);
  py::gil_scoped_release release;
  driver::optimizer_step(target, wp, gp, mp, vp, n, s);
}

}  // namespace

void bind_optimizer_step(py::module_& m) {
  m.def("optimizer_step", &optimizer_step, py::arg("kind"), py::arg("w"), py::arg("g"), py::arg("m"), py::arg("v"),
        py::arg("lr"), py::arg("b1") = 0.0f, py::arg("b2") = 0.0f, py::arg("eps") = 0.0f, py::arg("lr_scale") = 1.0f,
        py::arg("clip") = py::none(), py::arg("isa") = "",
        R"pbdoc(In-place fused optimizer update of w (and moments m, v) from gradient g (see pybitnet.optim).)pbdoc");
}

}  // namespace pbn
