// Binding of pack_signs: checks, then pack/driver.h.
#include "bind_util.h"
#include "pack/driver.h"

namespace pbn {

namespace {

DType dtype_of(const py::array& x) {
  if (same_dtype(x.dtype(), py::dtype::of<float>())) return DType::f32;
  if (same_dtype(x.dtype(), py::dtype::of<double>())) return DType::f64;
  if (same_dtype(x.dtype(), py::dtype::of<std::int8_t>())) return DType::i8;
  if (same_dtype(x.dtype(), py::dtype::of<std::int16_t>())) return DType::i16;
  throw py::type_error("x must have dtype float32, float64, int8 or int16, got " + std::string(py::str(x.dtype())));
}

py::array pack_signs(const py::array& x, const py::handle& axis_obj, const std::string& isa_name) {
  const Target target = resolve_target(isa_name);
  const DType dtype = dtype_of(x);
  const int ndim = int(x.ndim());
  if (ndim == 0) throw py::value_error("x must have at least 1 dimension, got a 0-d array");
  if (!PyLong_Check(axis_obj.ptr()) || PyBool_Check(axis_obj.ptr()))
    throw py::type_error("axis must be an int, got " + std::string(py::str(py::type::of(axis_obj))));
  int overflow = 0;
  const long long axis_ll = PyLong_AsLongLongAndOverflow(axis_obj.ptr(), &overflow);
  if (overflow || axis_ll < -ndim || axis_ll >= ndim)
    throw py::value_error("axis " + std::string(py::str(axis_obj)) + " is out of range for x of shape " + shape_str(x));
  int axis = int(axis_ll);
  if (axis < 0) axis += ndim;
  require_c_contiguous(x, "x");
  require_aligned(x, "x");

  std::size_t outer = 1, inner = 1;
  std::vector<py::ssize_t> shape(x.shape(), x.shape() + ndim);
  for (int d = 0; d < axis; ++d) outer *= std::size_t(shape[d]);
  for (int d = axis + 1; d < ndim; ++d) inner *= std::size_t(shape[d]);
  const std::size_t k = std::size_t(shape[axis]);
  shape[axis] = py::ssize_t(words_for(k));
  py::array_t<word_t> out(shape);
  if (out.size() == 0 || x.size() == 0) {
    if (out.size()) std::fill_n(out.mutable_data(), out.size(), word_t(0));
    return out;
  }

  const void* src = x.data();
  word_t* dst = out.mutable_data();
  bool nan;
  {
    py::gil_scoped_release release;
    nan = driver::pack_signs(target, src, dtype, outer, k, inner, dst);
  }
  if (nan) throw py::value_error("x contains NaN, which has no sign to pack");
  return out;
}

// x (..., k) float32 of +-s and 0 values -> (sign bits, nonzero bits, s, flags): the bits as pack_signs lays
// them out, s the magnitude of the first nonzero element (0.0 if none), flags the kernels' (kernels.h); the
// caller (pybitnet.nn._ops.pack_input) turns kOtherValue or a non-finite s into its error.
py::tuple pack_scaled_ternary(const py::array& x, const std::string& isa_name) {
  const Target target = resolve_target(isa_name);
  require_dtype<float>(x, "x", "float32");
  if (x.ndim() == 0) throw py::value_error("x must have at least 1 dimension, got a 0-d array");
  require_c_contiguous(x, "x");
  require_aligned(x, "x");
  std::vector<py::ssize_t> shape(x.shape(), x.shape() + x.ndim());
  const std::size_t k = std::size_t(shape.back());
  const std::size_t rows = k ? std::size_t(x.size()) / k : 0;
  shape.back() = py::ssize_t(words_for(k));
  py::array_t<word_t> signs(shape), nonzero(shape);
  driver::ScaledTernary r;
  if (rows && k) {
    const auto* src = static_cast<const float*>(x.data());
    word_t* sp = signs.mutable_data();
    word_t* np_ = nonzero.mutable_data();
    py::gil_scoped_release release;
    r = driver::pack_scaled_ternary(target, src, rows, k, sp, np_);
  }
  return py::make_tuple(signs, nonzero, r.s, r.flags);
}

// x (M, k) uint8 -> its 8 bit planes as packed ±1 rows (8 M, words): plane p of row i at row p * M + i.
py::array pack_bit_planes(const py::array& x, const std::string& isa_name) {
  const Target target = resolve_target(isa_name);
  require_dtype<std::uint8_t>(x, "x", "uint8");
  require_ndim(x, "x", 2);
  require_c_contiguous(x, "x");
  const std::size_t rows = std::size_t(x.shape(0)), k = std::size_t(x.shape(1));
  py::array out = new_result<word_t>({checked_mul(8, rows, "the planes (8 rows per row of x)"), words_for(k)},
                                     "the packed bit planes");
  if (rows == 0 || k == 0) return out;
  const auto* src = static_cast<const std::uint8_t*>(x.data());
  auto* dst = static_cast<word_t*>(out.mutable_data());
  py::gil_scoped_release release;
  driver::pack_bit_planes(target, src, rows, k, dst);
  return out;
}

}  // namespace

void bind_pack(py::module_& m) {
  m.def("pack_signs", &pack_signs, py::arg("x"), py::arg("axis") = -1, py::arg("isa") = "",
        R"pbdoc(Pack the signs of x along `axis` into uint64 words (see pybitnet.pack_signs).)pbdoc");
  m.def("pack_scaled_ternary", &pack_scaled_ternary, py::arg("x"), py::arg("isa") = "",
        R"pbdoc(x (..., k) float32 of +-s and 0 -> (sign bits, nonzero bits, s, flags): flags 1 = a zero, 2 = a value
neither 0 nor +-s (see pybitnet.nn._ops.pack_input).)pbdoc");
  m.def("pack_bit_planes", &pack_bit_planes, py::arg("x"), py::arg("isa") = "",
        R"pbdoc(uint8 x (M, k) -> its 8 bit planes as packed +-1 rows (8 M, words) (see pybitnet.first_layer.pack_bit_planes).)pbdoc");
}

}  // namespace pbn
