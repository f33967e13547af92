// Bindings of the training batch norm (norm/batch_norm_body.h): checks, then norm/driver.h.
#include <cmath>

#include "bind_util.h"
#include "norm/driver.h"

namespace pbn {

namespace {

// A (rows, c) float32 C-contiguous input named `name`.
void check_rows(const py::array& a, const char* name) {
  require_dtype<float>(a, name, "float32");
  require_ndim(a, name, 2);
  require_c_contiguous(a, name);
}

// A per-channel float32 vector of c entries.
const float* per_channel(const py::array& a, const char* name, std::size_t c) {
  return per_output<float>(a, name, "float32", c, "channel");
}

py::tuple batch_norm_train(const py::array& x, const py::array& gamma, const py::array& beta, float eps,
                           const py::object& xhat_out, const std::string& isa_name) {
  const Target target = resolve_target(isa_name);
  check_rows(x, "x");
  const std::size_t rows = std::size_t(x.shape(0)), c = std::size_t(x.shape(1));
  if (rows == 0) throw py::value_error("x has no rows: the batch statistics need at least one");
  if (!(eps >= 0.0f) || !std::isfinite(eps)) throw py::value_error("eps must be finite and >= 0");
  const float* g = per_channel(gamma, "gamma", c);
  const float* b = per_channel(beta, "beta", c);
  py::array_t<float> y = new_result<float>({rows, c}, "y");
  py::array_t<float> xhat = output_f32(xhat_out, rows, c, {&x}, "xhat");  // a caller's buffer, or new
  py::array_t<float> mean = new_result<float>({c}, "mean"), var = new_result<float>({c}, "var"),
                     inv = new_result<float>({c}, "inv");
  const auto* xp = static_cast<const float*>(x.data());
  float *yp = y.mutable_data(), *hp = xhat.mutable_data(), *mp = mean.mutable_data(), *vp = var.mutable_data(),
        *ip = inv.mutable_data();
  {
    py::gil_scoped_release release;
    driver::batch_norm_train(target, xp, rows, c, g, b, eps, yp, hp, mp, vp, ip);
  }
  return py::make_tuple(y, xhat, mean, var, inv);
}

py::tuple batch_norm_backward(const py::array& grad, const py::array& xhat, const py::array& scale, bool input_grad,
                              const std::string& isa_name) {
  const Target target = resolve_target(isa_name);
  check_rows(grad, "grad");
  check_rows(xhat, "xhat");
  const std::size_t rows = std::size_t(grad.shape(0)), c = std::size_t(grad.shape(1));
  if (std::size_t(xhat.shape(0)) != rows || std::size_t(xhat.shape(1)) != c)
    throw py::value_error("xhat has shape " + shape_str(xhat) + " but grad " + shape_str(grad));
  if (rows == 0) throw py::value_error("grad has no rows");
  const float* s = per_channel(scale, "scale", c);
  py::array_t<float> dgamma = new_result<float>({c}, "dgamma"), dbeta = new_result<float>({c}, "dbeta");
  py::object dx = py::none();
  float* dxp = nullptr;
  if (input_grad) {
    py::array_t<float> d = new_result<float>({rows, c}, "dx");
    dxp = d.mutable_data();
    dx = d;
  }
  const auto* gp = static_cast<const float*>(grad.data());
  const auto* hp = static_cast<const float*>(xhat.data());
  float *dg = dgamma.mutable_data(), *db = dbeta.mutable_data();
  {
    py::gil_scoped_release release;
    driver::batch_norm_backward(target, gp, hp, rows, c, s, dg, db, dxp);
  }
  return py::make_tuple(dgamma, dbeta, dx);
}

}  // namespace

void bind_batch_norm(py::module_& m) {
  m.def("batch_norm_train", &batch_norm_train, py::arg("x"), py::arg("gamma"), py::arg("beta"), py::arg("eps"),
        py::arg("xhat") = py::none(), py::arg("isa") = "",
        R"pbdoc(Training batch norm of rows x (rows, C): (y, xhat, mean, var, inv) (see pybitnet.nn.BatchNorm).)pbdoc");
  m.def("batch_norm_backward", &batch_norm_backward, py::arg("grad"), py::arg("xhat"), py::arg("scale"),
        py::arg("input_grad") = true, py::arg("isa") = "",
        R"pbdoc(Its backward: (dgamma, dbeta, dx or None) with dx = (grad - mean(grad) - xhat * mean(grad * xhat)) * scale.)pbdoc");
}

}  // namespace pbn
