// Bindings of the binarize / ternarize samplers: checks, then sample/driver.h.
#include <cmath>

#include "bind_util.h"
#include "sample/driver.h"

namespace pbn {

namespace {

struct Rows {
  const float* data;
  std::size_t rows, k, ld;
  std::vector<py::ssize_t> out_shape;
};

Rows check_weights(const py::array& w, float scale) {
  require_dtype<float>(w, "w", "float32");
  if (w.ndim() < 1) throw py::value_error("w must have at least 1 dimension, got a 0-d array");
  require_c_contiguous(w, "w");
  if (!(scale > 0.0f) || !std::isfinite(scale))
    throw py::value_error("scale must be a finite number > 0, got " + std::to_string(scale));
  Rows r{static_cast<const float*>(w.data()), 1, std::size_t(w.shape(w.ndim() - 1)), 0, {}};
  for (py::ssize_t d = 0; d + 1 < w.ndim(); ++d) {
    r.rows *= std::size_t(w.shape(d));
    r.out_shape.push_back(w.shape(d));
  }
  r.ld = r.k;
  r.out_shape.push_back(py::ssize_t(words_for(r.k)));
  return r;
}

void require_no_nan(bool ok) {
  if (!ok) throw py::value_error("w contains NaN, which cannot be binarized or ternarized");
}

py::array_t<word_t> binarize(const py::array& w, bool stochastic, std::uint64_t seed, float scale) {
  const Rows r = check_weights(w, scale);
  py::array_t<word_t> out(r.out_shape);
  word_t* o = out.mutable_data();
  if (out.size()) {
    bool ok;
    {
      py::gil_scoped_release release;
      ok = driver::binarize(resolve_target(""), r.data, r.ld, r.rows, r.k, scale, stochastic, seed, o);
    }
    require_no_nan(ok);
  }
  return out;
}

py::tuple ternarize(const py::array& w, bool stochastic, std::uint64_t seed, float scale) {
  const Rows r = check_weights(w, scale);
  py::array_t<word_t> sign(r.out_shape), nonzero(r.out_shape);
  word_t* s = sign.mutable_data();
  word_t* nz = nonzero.mutable_data();
  if (sign.size()) {
    bool ok;
    {
      py::gil_scoped_release release;
      ok = driver::ternarize(resolve_target(""), r.data, r.ld, r.rows, r.k, scale, stochastic, seed, s, nz);
    }
    require_no_nan(ok);
  }
  return py::make_tuple(sign, nonzero);
}

py::tuple dropout(const py::array& x, double p, std::uint64_t seed, const std::string& isa_name) {
  const Target target = resolve_target(isa_name);
  require_dtype<float>(x, "x", "float32");
  require_c_contiguous(x, "x");
  if (!(p >= 0.0 && p < 1.0)) throw py::value_error("p must be in [0, 1), got " + std::to_string(p));
  std::vector<py::ssize_t> shape(x.shape(), x.shape() + x.ndim());
  py::array_t<float> y(shape), scale(shape);
  const std::size_t n = std::size_t(x.size());
  const float* xp = static_cast<const float*>(x.data());
  float* yp = y.mutable_data();
  float* sp = scale.mutable_data();
  if (n) {
    py::gil_scoped_release release;
    driver::dropout(target, xp, yp, sp, n, p, seed);
  }
  return py::make_tuple(y, scale);
}

}  // namespace

void bind_sample(py::module_& m) {
  m.def("binarize", &binarize, py::arg("w"), py::arg("stochastic"), py::arg("seed"), py::arg("scale"),
        "Packed signs of w, deterministic or sampled (see pybitnet.binarize).");
  m.def("ternarize", &ternarize, py::arg("w"), py::arg("stochastic"), py::arg("seed"), py::arg("scale"),
        "(sign_bits, nonzero_bits) of ternarized w (see pybitnet.ternarize).");
  m.def("dropout", &dropout, py::arg("x"), py::arg("p"), py::arg("seed"), py::arg("isa") = "",
        "(y, scale) of inverted dropout on x (see pybitnet.dropout).");
}

}  // namespace pbn
