// Binding of the one-call MLP forward pass (inference/packed_mlp.h): every
// array is checked once, when the object is built; logits() checks only x,
// releases the GIL and runs the whole net.
#include <climits>
#include <cmath>
#include <memory>
#include <string>

#include <pybind11/stl.h>

#include "bind_util.h"
#include "inference/packed_mlp.h"
#include "weight_matmul/pixel_panels.h"

namespace pbn {

namespace {

template <class T>
std::vector<T> per_row(const py::array& a, const std::string& name, const char* dtype, std::size_t n) {
  const T* p = per_output<T>(a, name.c_str(), dtype, n, "weight row");
  return std::vector<T>(p, p + n);
}

void require_chain(std::size_t features, std::int64_t k, const std::string& layer) {
  if (std::size_t(k) != features)
    throw py::value_error(layer + " takes k=" + std::to_string(k) + " inputs but the layer before gives " +
                          std::to_string(features));
}

std::unique_ptr<PackedMlp> build(const py::array& w0, const py::handle& k0_obj, const py::array& t0,
                                 const py::array& s0, const std::vector<py::tuple>& hidden, const py::array& w_last,
                                 const py::handle& k_last_obj, const py::array& scale, const py::array& shift,
                                 const py::object& pixel_t) {
  const char* why = "the dot products are int32 (k <= 2**31 - 1)";
  PackedMlp::FirstLayer first;
  first.k = std::size_t(checked_k(k0_obj, "k0", INT32_MAX, why));
  first.n = contiguous_packed_rows(w0, "w0", std::int64_t(first.k));
  first.w = static_cast<const word_t*>(w0.data());
  first.t = per_row<float>(t0, "t0", "float32", first.n);
  first.s = per_row<float>(s0, "s0", "float32", first.n);
  require_finite(first.t.data(), first.n, "t0", "a threshold", true);
  require_finite(first.s.data(), first.n, "s0", "a threshold's sign", true);
  std::size_t features = first.n;
  std::vector<PackedMlp::HiddenLayer> layers;
  for (std::size_t i = 0; i < hidden.size(); ++i) {
    const std::string at = "hidden[" + std::to_string(i) + "]";
    if (hidden[i].size() != 4)
      throw py::value_error(at + " must be a tuple (w_bits, k, thresholds, flip), got " +
                            std::to_string(hidden[i].size()) + " items");
    for (int j : {0, 2, 3})
      if (!py::isinstance<py::array>(hidden[i][j]))
        throw py::type_error(at + " item " + std::to_string(j) + " must be a numpy array");
    PackedMlp::HiddenLayer h;
    const auto w = py::reinterpret_borrow<py::array>(hidden[i][0]);
    h.k = std::size_t(checked_k(hidden[i][1], (at + " k").c_str(), INT32_MAX, why));
    require_chain(features, std::int64_t(h.k), at);
    h.n = contiguous_packed_rows(w, (at + " w_bits").c_str(), std::int64_t(h.k));
    h.w = static_cast<const word_t*>(w.data());
    h.thresholds = per_row<std::int32_t>(py::reinterpret_borrow<py::array>(hidden[i][2]), at + " thresholds", "int32",
                                         h.n);
    h.flips = pack_flags(hidden[i][3], (at + " flip").c_str(), h.n, "weight row");
    features = h.n;
    layers.push_back(std::move(h));
  }
  PackedMlp::LastLayer last;
  last.k = std::size_t(checked_k(k_last_obj, "k_last", INT32_MAX, why));
  require_chain(features, std::int64_t(last.k), "the last layer");
  last.n = contiguous_packed_rows(w_last, "w_last", std::int64_t(last.k));
  last.w = static_cast<const word_t*>(w_last.data());
  last.scale = per_row<float>(scale, "scale", "float32", last.n);
  last.shift = per_row<float>(shift, "shift", "float32", last.n);
  require_finite(last.scale.data(), last.n, "scale", "an affine epilogue");
  require_finite(last.shift.data(), last.n, "shift", "an affine epilogue");
  if (first.n == 0 || last.n == 0) throw py::value_error("every layer needs at least one output");
  std::vector<float> pixels;
  if (!pixel_t.is_none()) {  // PixelInput.t: integer thresholds on the exact p . w
    if (first.k >= (std::size_t(1) << 22))
      throw py::value_error("pixel_t: uint8 input needs k0 < 2**22 (int32 sums of 255 * k)");
    if (!py::isinstance<py::array>(pixel_t)) throw py::type_error("pixel_t must be a numpy array or None");
    pixels = per_row<float>(py::reinterpret_borrow<py::array>(pixel_t), "pixel_t", "float32", first.n);
    require_finite(pixels.data(), first.n, "pixel_t", "a threshold", true);
  }
  return std::make_unique<PackedMlp>(std::move(first), std::move(layers), std::move(last), std::move(pixels));
}

// x's dtype and shape (M, in_features) checked; the logits array for it.
template <class T>
py::array_t<float> logits_for(const PackedMlp& net, const py::array& x, const char* dtype) {
  require_dtype<T>(x, "x", dtype);
  require_ndim(x, "x", 2);
  if (std::size_t(x.shape(1)) != net.in_features())
    throw py::value_error("x must have shape (M, " + std::to_string(net.in_features()) + "), got " + shape_str(x));
  return new_result<float>({std::size_t(x.shape(0)), net.out_features()}, "the logits (rows of x x classes)");
}

py::array_t<float> logits(const PackedMlp& net, const py::array& x, const std::string& isa_name) {
  const Target target = resolve_target(isa_name);
  py::array_t<float> out = logits_for<float>(net, x, "float32");
  const std::size_t m = std::size_t(x.shape(0));
  if (m == 0) return out;
  const std::size_t ldx = row_stride(x, "x");
  const auto* xp = static_cast<const float*>(x.data());
  for (std::size_t i = 0; i < m; ++i)  // NaN compares false with every threshold
    for (std::size_t j = 0; j < net.in_features(); ++j)
      if (!std::isfinite(xp[i * ldx + j]))
        throw py::value_error("x contains NaN or Inf: the model has no prediction for it");
  float* o = out.mutable_data();
  bool ok;
  {
    py::gil_scoped_release release;
    ok = net.logits(target, xp, ldx, m, o);
  }
  if (!ok)
    throw py::value_error("the first layer's (x @ sign(W).T - t) * s is NaN (an overflow of x times a zero or "
                          "infinite threshold scale): the model has no prediction for it");
  return out;
}

py::array_t<float> logits_pixels(const PackedMlp& net, const py::array& x, bool bitplanes,
                                 const std::string& isa_name) {
  const Target target = resolve_target(isa_name);
  if (!net.has_pixels())
    throw py::value_error("this PackedMlp was built without pixel_t: it takes float32 rows (logits)");
  py::array_t<float> out = logits_for<std::uint8_t>(net, x, "uint8");
  const std::size_t m = std::size_t(x.shape(0));
  if (m == 0) return out;
  if (bitplanes) require_c_contiguous(x, "x");  // pack_bit_planes reads whole rows back to back
  const std::size_t ldx = row_stride(x, "x");
  bool ok;
  {
    py::gil_scoped_release release;
    ok = net.logits_pixels(target, static_cast<const std::uint8_t*>(x.data()), ldx, m, bitplanes, out.mutable_data());
  }
  if (!ok)
    throw py::value_error("the first layer's (p . w - t) * s is NaN (a zero sum times an infinite threshold "
                          "scale): the model has no prediction for it");
  return out;
}

// A read-only view of memory the object owns (kept alive by the array), or None without pixel_t.
template <class T>
py::object owned_view(const py::object& self, const T* data, std::vector<py::ssize_t> shape) {
  if (!data) return py::none();
  py::array_t<T> view(shape, data, self);
  view.attr("setflags")(py::arg("write") = false);
  return std::move(view);
}

}  // namespace

void bind_packed_mlp(py::module_& m) {
  py::class_<PackedMlp>(m, "PackedMlp", R"pbdoc(A packed BNN MLP run in one native call (pybitnet.inference uses it
for float32 inputs, and with pixel_t for uint8 pixels; see src/bitops/inference/packed_mlp.h). Copies the
weights.)pbdoc")
      .def(py::init(&build), py::arg("w0"), py::arg("k0"), py::arg("t0"), py::arg("s0"), py::arg("hidden"),
           py::arg("w_last"), py::arg("k_last"), py::arg("scale"), py::arg("shift"), py::arg("pixel_t") = py::none())
      .def("logits", &logits, py::arg("x"), py::arg("isa") = "",
           "float32 logits (M, classes) of float32 rows x (M, in_features), bit for bit the Python path's.")
      .def("logits_pixels", &logits_pixels, py::arg("x"), py::arg("bitplanes") = false, py::arg("isa") = "",
           "float32 logits (M, classes) of uint8 pixel rows x (M, in_features) (built with pixel_t), by the "
           "subset-sum tables or the bit planes: bit for bit the Python path's (uint8_path 'adds' or 'bitplanes').")
      .def_property_readonly("has_pixels", &PackedMlp::has_pixels)
      .def_property_readonly(
          "pixel_panels",
          [](const py::object& self) {
            const auto& net = self.cast<const PackedMlp&>();
            const auto n = py::ssize_t(net.first_rows()), chunks = py::ssize_t(pixel_panel_chunks(net.in_features()));
            return owned_view(self, net.has_pixels() ? net.pixel_panels() : nullptr, {(n + 31) / 32, chunks, 32});
          },
          "The first layer's 16-bit panels (read-only, as first_layer.pixel_panels), or None without pixel_t.")
      .def_property_readonly(
          "weight_row_sums",
          [](const py::object& self) {
            const auto& net = self.cast<const PackedMlp&>();
            return owned_view(self, net.has_pixels() ? net.weight_row_sums() : nullptr,
                              {py::ssize_t(net.first_rows())});
          },
          "The first layer's int32 row sums (read-only), or None without pixel_t.")
      .def_property_readonly("in_features", &PackedMlp::in_features)
      .def_property_readonly("out_features", &PackedMlp::out_features)
      .def_property_readonly("weight_bytes", &PackedMlp::weight_bytes)
      .def_property_readonly("on_huge_pages", &PackedMlp::on_huge_pages);
}

}  // namespace pbn
