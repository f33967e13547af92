// Bindings of the fused optimizer update (optimizer_step/optimizer_step_body.h) and of the weight
// gradient fused into it (optimizer_step/weight_grad_update.h).
#include <cstdint>
#include <initializer_list>
#include <utility>

#include "bind_util.h"
#include "bind_weight_bits.h"
#include "optimizer_step/driver.h"
#include "optimizer_step/weight_grad_update.h"
#include "pack/driver.h"

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

// The packed signs of the updated w, viewed as rows of k, written into `signs` (rows, words_for(k)):
// the pass that just wrote w packs it while it is in cache, instead of the next forward reading it again.
word_t* signs_buffer(const py::object& signs, std::size_t n, std::size_t k, std::size_t* rows) {
  if (signs.is_none()) return nullptr;
  if (k == 0 || n % k) throw py::value_error("k must divide the size of w (" + std::to_string(n) + "), got " + std::to_string(k));
  if (!py::isinstance<py::array>(signs)) throw py::type_error("signs must be a uint64 numpy array");
  auto arr = py::reinterpret_borrow<py::array>(signs);
  require_dtype<word_t>(arr, "signs", "uint64");
  require_c_contiguous(arr, "signs");
  *rows = n / k;
  if (arr.ndim() != 2 || std::size_t(arr.shape(0)) != *rows || std::size_t(arr.shape(1)) != words_for(k))
    throw py::value_error("signs must have shape (" + std::to_string(*rows) + ", " + std::to_string(words_for(k)) +
                          ") for w of " + std::to_string(n) + " elements in rows of " + std::to_string(k));
  if (!arr.writeable()) throw py::value_error("signs must be writeable");
  return static_cast<word_t*>(arr.mutable_data());
}

// The update reads each of w, g, m, v once per element and writes w, m, v: buffers that overlap
// would give a result that depends on the kernel's order of loads and stores. Refused.
void require_disjoint(std::initializer_list<std::pair<const char*, const float*>> buffers, std::size_t n) {
  for (auto a = buffers.begin(); a != buffers.end(); ++a)
    for (auto b = a + 1; b != buffers.end(); ++b) {
      if (!a->second || !b->second || n == 0) continue;
      const auto a0 = reinterpret_cast<std::uintptr_t>(a->second), b0 = reinterpret_cast<std::uintptr_t>(b->second);
      if (a0 < b0 + 4 * n && b0 < a0 + 4 * n)
        throw py::value_error(std::string(a->first) + " and " + b->first + " must not share memory");
    }
}

// A NaN or infinite gradient (a diverged loss, a NaN input) would otherwise leave NaN weights, or with a clip
// saturated ones, and training would go on without an error; a NaN weight has no sign to pack either.
// Raised as pybitnet._errors.NonFiniteUpdate (a ValueError): the optimizer adds the step and the
// parameter by its type, not by the message's words.
void require_finite_update(bool bad, const char* grad) {
  if (!bad) return;
  const std::string msg = std::string("w holds NaN after the update, or ") + grad +
                          " holds NaN or Inf (w and the moments are written: restore them from a checkpoint)";
  const py::object cls = py::module_::import("pybitnet._errors").attr("NonFiniteUpdate");
  PyErr_SetString(cls.ptr(), msg.c_str());
  throw py::error_already_set();
}

int optim_kind(const std::string& kind) {
  static const char* kinds[] = {"sgd", "momentum", "adam", "adamax", "shift_adamax"};
  for (int i = 0; i < 5; ++i)
    if (kind == kinds[i]) return i;
  throw py::value_error("kind must be sgd, momentum, adam, adamax or shift_adamax, got '" + kind + "'");
}

OptimStep optim_step(int k, float lr, float b1, float b2, float eps, float lr_scale, const py::object& clip) {
  const float c = clip.is_none() ? 0.0f : py::cast<float>(clip);
  if (!clip.is_none() && !(c >= 0.0f))  // the kernels clip to [-c, c] (optimizer_step_body.h)
    throw py::value_error("clip must be >= 0 or None, got " + std::string(py::str(clip)));
  return OptimStep{OptimKind(k), lr, b1, b2, eps, lr_scale, c, clip.is_none() ? 0 : 1};
}

std::size_t array_size(const py::object& w) {
  if (!py::isinstance<py::array>(w)) throw py::type_error("w must be a float32 numpy array");
  return std::size_t(py::reinterpret_borrow<py::array>(w).size());
}

void optimizer_step(const std::string& kind, const py::object& w, const py::object& g, const py::object& m,
                    const py::object& v, float lr, float b1, float b2, float eps, float lr_scale,
                    const py::object& clip, const std::string& isa_name, const py::object& signs, std::size_t k_row) {
  const Target target = resolve_target(isa_name);
  const int k = optim_kind(kind);
  const std::size_t n = array_size(w);
  const OptimStep s = optim_step(k, lr, b1, b2, eps, lr_scale, clip);
  float* wp = float_buffer(w, "w", n, true);
  const float* gp = float_buffer(g, "g", n, true);
  float* mp = float_buffer(m, "m", n, k >= 1);
  float* vp = float_buffer(v, "v", n, k >= 2);
  require_disjoint({{"w", wp}, {"g", gp}, {"m", mp}, {"v", vp}}, n);
  std::size_t rows = 0;
  word_t* sp = signs_buffer(signs, n, k_row, &rows);
  bool bad = false;
  {
    py::gil_scoped_release release;
    bad = driver::optimizer_step(target, wp, gp, mp, vp, n, s);
    if (sp && driver::pack_signs(target, wp, DType::f32, rows, k_row, 1, sp)) bad = true;
  }
  require_finite_update(bad, "g");
}

// w (f x k) updated from dW = gt @ X (X: the layer's packed ±1 or ternary inputs, rows of k), fused.
void weight_grad_update(const std::string& kind, const py::array& gt, const py::array& x_signs,
                        const py::object& x_nonzero, const py::handle& k_obj, const py::object& w,
                        const py::object& m, const py::object& v, float lr, float b1, float b2, float eps,
                        float lr_scale, const py::object& clip, const py::object& signs,
                        const std::string& isa_name) {
  const Target target = resolve_target(isa_name);
  const int kind_id = optim_kind(kind);
  const std::int64_t k = check_weight_k(k_obj);
  const driver::WeightBits x = check_weight_bits(x_signs, x_nonzero, k, "x_signs", "x_nonzero");
  const std::size_t ldg = check_f32_matrix(gt, "gt");
  if (std::size_t(gt.shape(1)) != x.n)
    throw py::value_error("gt has " + std::to_string(gt.shape(1)) + " columns but x_signs has " + std::to_string(x.n) +
                          " rows (gt is the transposed output gradient, one column per input row)");
  const std::size_t f = std::size_t(gt.shape(0));
  const std::size_t n = checked_mul(f, std::size_t(k), "w (rows of gt x k)");
  if (array_size(w) != n)
    throw py::value_error("w has " + std::to_string(array_size(w)) + " elements, but gt's " + std::to_string(f) +
                          " rows x k=" + std::to_string(k) + " need " + std::to_string(n));
  const OptimStep s = optim_step(kind_id, lr, b1, b2, eps, lr_scale, clip);
  float* wp = float_buffer(w, "w", n, true);
  float* mp = float_buffer(m, "m", n, kind_id >= 1);
  float* vp = float_buffer(v, "v", n, kind_id >= 2);
  require_disjoint({{"w", wp}, {"m", mp}, {"v", vp}}, n);
  std::size_t rows = 0;
  word_t* sp = signs_buffer(signs, n, std::size_t(k), &rows);
  const float* gp = static_cast<const float*>(gt.data());
  bool bad = false;
  {
    py::gil_scoped_release release;
    bad = driver::weight_grad_update(target, gp, ldg, x, std::size_t(k), wp, mp, vp, f, s, sp);
  }
  require_finite_update(bad, "the gradient gt @ X");
}

}  // namespace

void bind_optimizer_step(py::module_& m) {
  m.def("optimizer_step", &optimizer_step, py::arg("kind"), py::arg("w"), py::arg("g"), py::arg("m"), py::arg("v"),
        py::arg("lr"), py::arg("b1") = 0.0f, py::arg("b2") = 0.0f, py::arg("eps") = 0.0f, py::arg("lr_scale") = 1.0f,
        py::arg("clip") = py::none(), py::arg("isa") = "", py::arg("signs") = py::none(), py::arg("k") = 0,
        R"pbdoc(In-place fused optimizer update of w (and moments m, v) from gradient g (see pybitnet.optim);
with `signs`, also the packed signs of the updated w in rows of k. Raises ValueError, after writing the update,
if g holds NaN or Inf or the new w holds NaN.)pbdoc");
  m.def("weight_grad_update", &weight_grad_update, py::arg("kind"), py::arg("gt"), py::arg("x_signs"),
        py::arg("x_nonzero"), py::arg("k"), py::arg("w"), py::arg("m"), py::arg("v"), py::arg("lr"),
        py::arg("b1") = 0.0f, py::arg("b2") = 0.0f, py::arg("eps") = 0.0f, py::arg("lr_scale") = 1.0f,
        py::arg("clip") = py::none(), py::arg("signs") = py::none(), py::arg("isa") = "",
        R"pbdoc(Fused: w (and m, v) updated from dW = gt @ X, X the packed +-1 (or ternary, with x_nonzero) rows
of k; slices of dW stay in cache; with `signs`, the packed signs of the new w (see pybitnet.optim).)pbdoc");
}

}  // namespace pbn
