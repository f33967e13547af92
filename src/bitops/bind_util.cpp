#include "bind_util.h"

#include <climits>
#include <cmath>
#include <cstdint>
#include <utility>

namespace pbn {

std::string shape_str(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t d = 0; d < a.ndim(); ++d) s += (d ? ", " : "") + std::to_string(a.shape(d));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

void require_ndim(const py::array& a, const char* name, int ndim) {
  if (a.ndim() != ndim)
    throw py::value_error(std::string(name) + " must be " + std::to_string(ndim) + "-D, got shape " + shape_str(a));
}

void require_c_contiguous(const py::array& a, const char* name) {
  if (!(a.flags() & py::array::c_style))
    throw py::value_error(std::string(name) +
                          " must be C-contiguous (pybitnet does not copy large inputs silently); "
                          "pass np.ascontiguousarray(" + name + ")");
}

bool same_dtype(const py::dtype& a, const py::dtype& b) {
  return a.is(b) || py::detail::npy_api::get().PyArray_EquivTypes_(a.ptr(), b.ptr());
}

void require_aligned(const py::array& a, const char* name) {
  if (!(a.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_))
    throw py::value_error(std::string(name) + " is not aligned for its dtype (a view at an odd byte offset); pass " +
                          name + ".copy()");
}

std::size_t row_stride(const py::array& a, const char* name) {
  if (a.size() == 0) return std::size_t(a.shape(1));  // numpy gives empty arrays arbitrary strides
  const auto item = py::ssize_t(a.itemsize());
  const bool rows_ok = a.shape(1) <= 1 || a.strides(1) == item;
  if (!rows_ok || a.strides(0) < 0 || a.strides(0) % item != 0)
    throw py::value_error(std::string(name) + " must have contiguous rows (got strides (" +
                          std::to_string(a.strides(0)) + ", " + std::to_string(a.strides(1)) +
                          ")); pass np.ascontiguousarray(" + name + ")");
  if (a.shape(0) > 1 && a.strides(0) < a.shape(1) * item)
    throw py::value_error(std::string(name) + " has overlapping rows (row stride " + std::to_string(a.strides(0)) +
                          " bytes for rows of " + std::to_string(a.shape(1) * item) +
                          " bytes, e.g. a np.broadcast_to view); pass np.ascontiguousarray(" + name + ")");
  return a.shape(0) <= 1 ? std::size_t(a.shape(1)) : std::size_t(a.strides(0) / item);
}

std::int64_t checked_int(const py::handle& v, const char* name, std::int64_t lo, std::int64_t hi) {
  if (!PyLong_Check(v.ptr()) || PyBool_Check(v.ptr()))
    throw py::type_error(std::string(name) + " must be an int, got " + std::string(py::str(py::type::of(v))));
  int overflow = 0;
  const long long x = PyLong_AsLongLongAndOverflow(v.ptr(), &overflow);
  if (overflow || x < lo || x > hi)
    throw py::value_error(std::string(name) + " must be in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                          "], got " + std::string(py::str(v)));
  return x;
}

std::size_t checked_mul(std::size_t a, std::size_t b, const char* what, std::size_t max) {
  std::size_t r;
  if (__builtin_mul_overflow(a, b, &r))
    throw py::value_error(std::string(what) + " is too large (" + std::to_string(a) + " x " + std::to_string(b) +
                          " overflows)");
  if (r > max)
    throw py::value_error(std::string(what) + " is too large (" + std::to_string(a) + " x " + std::to_string(b) +
                          " = " + std::to_string(r) + " > " + std::to_string(max) + ")");
  return r;
}

void require_finite(const float* p, std::size_t n, const char* name, const char* why, bool allow_inf) {
  for (std::size_t i = 0; i < n; ++i)
    if (allow_inf ? std::isnan(p[i]) : !std::isfinite(p[i]))
      throw py::value_error(std::string(name) + " contains " + (std::isnan(p[i]) ? "NaN" : "Inf") + " at flat index " +
                            std::to_string(i) + " (" + why + ")");
}

std::int64_t checked_k(const py::handle& k, const char* name, std::int64_t max, const char* why_max) {
  if (!PyLong_Check(k.ptr()) || PyBool_Check(k.ptr()))
    throw py::type_error(std::string(name) + " must be an int, got " + std::string(py::str(py::type::of(k))));
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(k.ptr(), &overflow);
  if (overflow < 0 || (!overflow && v < 0))
    throw py::value_error(std::string(name) + " must be >= 0, got " + std::string(py::str(k)));
  if (overflow > 0 || v > max)
    throw py::value_error(std::string(name) + "=" + std::string(py::str(k)) + " is too large: " + why_max);
  return v;
}

driver::Affine affine_arg(const py::object& scale, const py::object& bias, std::size_t n, const char* per) {
  driver::Affine e;
  if (!scale.is_none()) {
    if (!py::isinstance<py::float_>(scale) && !py::isinstance<py::int_>(scale))
      throw py::type_error("scale must be a number (or None), got " + std::string(py::str(py::type::of(scale))));
    e.scale = scale.cast<float>();
  }
  if (!bias.is_none()) {
    if (!py::isinstance<py::array>(bias)) throw py::type_error("bias must be a float32 numpy array (or None)");
    e.bias = per_output<float>(bias.cast<py::array>(), "bias", "float32", n, per);
  }
  return e;
}

namespace {
// [lo, hi): the bytes an array's elements lie in. Not nbytes from data(): a view with padded rows (a
// column slice) or negative strides reaches past or before that.
std::pair<std::uintptr_t, std::uintptr_t> byte_span(const py::array& a) {
  auto lo = reinterpret_cast<std::uintptr_t>(a.data()), hi = lo + std::uintptr_t(a.itemsize());
  for (py::ssize_t d = 0; d < a.ndim(); ++d) {
    const auto reach = py::ssize_t(a.shape(d) - 1) * a.strides(d);  // shape >= 1: empty arrays never get here
    if (reach < 0)
      lo -= std::uintptr_t(-reach);
    else
      hi += std::uintptr_t(reach);
  }
  return {lo, hi};
}
}  // namespace

bool overlaps(const py::array& a, const py::array& b) {
  if (a.size() == 0 || b.size() == 0) return false;
  const auto sa = byte_span(a), sb = byte_span(b);
  return sa.first < sb.second && sb.first < sa.second;
}

py::array_t<float> output_f32(const py::object& out, std::size_t rows, std::size_t cols,
                              const std::vector<const py::array*>& inputs, const char* name) {
  if (out.is_none()) return new_result<float>({rows, cols}, "the result");
  if (!py::isinstance<py::array>(out)) throw py::type_error(std::string(name) + " must be a numpy array or None");
  auto arr = py::reinterpret_borrow<py::array>(out);
  require_dtype<float>(arr, name, "float32");
  require_ndim(arr, name, 2);
  if (std::size_t(arr.shape(0)) != rows || std::size_t(arr.shape(1)) != cols)
    throw py::value_error(std::string(name) + " has shape " + shape_str(arr) + " but the result is (" +
                          std::to_string(rows) + ", " + std::to_string(cols) + ")");
  require_c_contiguous(arr, name);
  if (!arr.writeable()) throw py::value_error(std::string(name) + " must be writeable");
  for (const py::array* in : inputs)
    if (overlaps(arr, *in)) throw py::value_error(std::string(name) + " must not overlap the inputs");
  return py::reinterpret_borrow<py::array_t<float>>(arr);
}

std::size_t check_packed_rows(const py::array& bits, const char* name, std::int64_t k) {
  require_dtype<std::uint64_t>(bits, name, "uint64 (from pack_signs)");
  require_ndim(bits, name, 2);
  const std::size_t words = words_for(std::size_t(k));
  if (std::size_t(bits.shape(1)) != words)
    throw py::value_error(std::string(name) + " has " + std::to_string(bits.shape(1)) + " words per row but k=" +
                          std::to_string(k) + " needs ceil(k/64) = " + std::to_string(words));
  const std::size_t ld = row_stride(bits, name);
  if (words == 0) return ld;
  // Zero padding is the contract every GEMM relies on; checking the last word
  // of each row is O(rows) and turns a silently wrong result into an error.
  const auto* p = static_cast<const word_t*>(bits.data());
  const word_t pad = ~last_word_mask(std::size_t(k));
  if (pad == 0) return ld;  // k % 64 == 0: no padding bits (and no 4096 cache misses for a 4096-row matrix)
  for (py::ssize_t r = 0; r < bits.shape(0); ++r) {
    if (p[r * ld + words - 1] & pad)
      throw py::value_error(std::string(name) + " row " + std::to_string(r) + " has nonzero padding bits past k=" +
                            std::to_string(k) + " (rows must come from pack_signs with the same k)");
  }
  return ld;
}

std::size_t contiguous_packed_rows(const py::array& bits, const char* name, std::int64_t k) {
  check_packed_rows(bits, name, k);
  require_c_contiguous(bits, name);
  return std::size_t(bits.shape(0));
}

PackedOperands check_packed_operands(const py::array& a_bits, const py::array& b_bits, const py::handle& k_obj,
                                     const char* why, std::int64_t max_k, const char* a_name, const char* b_name) {
  const std::int64_t k = checked_k(k_obj, "k", max_k, why);
  const std::size_t lda = check_packed_rows(a_bits, a_name, k);
  const std::size_t ldb = check_packed_rows(b_bits, b_name, k);
  return {static_cast<const word_t*>(a_bits.data()), lda, static_cast<const word_t*>(b_bits.data()), ldb,
          std::size_t(a_bits.shape(0)), std::size_t(b_bits.shape(0)), k};
}

std::vector<word_t> pack_flags(const py::object& flags, const char* name, std::size_t n, const char* per) {
  std::vector<word_t> out;
  if (flags.is_none()) return out;
  if (!py::isinstance<py::array>(flags)) throw py::type_error(std::string(name) + " must be a bool array or None");
  per_output<bool>(py::reinterpret_borrow<py::array>(flags), name, "bool", n, per);
  // Read bytes, not bool: a bool array may hold any byte (a view of uint8 data);
  // numpy counts every nonzero byte as True, so do we.
  const auto* f = static_cast<const std::uint8_t*>(py::reinterpret_borrow<py::array>(flags).data());
  out.assign(words_for(n), 0);
  for (std::size_t j = 0; j < n; ++j) out[j / 64] |= word_t(f[j] != 0) << (j % 64);
  return out;
}

}  // namespace pbn
