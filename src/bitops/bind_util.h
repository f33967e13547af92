// Argument checks shared by the bindings. Every check names the argument, so
// a bad call from Python gets a clear ValueError/TypeError, never a crash.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <climits>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "affine.h"
#include "registry.h"

namespace pbn {
namespace py = pybind11;

std::string shape_str(const py::array& a);

// numpy's equivalence of dtypes (PyArray_EquivTypes), not identity: arrays that
// went through pickle, np.ctypeslib or a byte-order no-op (`astype("=u1")`) carry
// their own, equal, dtype object.
bool same_dtype(const py::dtype& a, const py::dtype& b);

// Raises ValueError unless `a`'s data is aligned for its element type (a view
// at an odd byte offset, e.g. np.frombuffer(buf, offset=1), is not: the
// kernels read whole elements).
void require_aligned(const py::array& a, const char* name);

// Raises TypeError unless `a` is a numpy array of element type T (and
// ValueError if its data is not aligned for T).
template <class T>
void require_dtype(const py::array& a, const char* name, const char* expected) {
  if (!same_dtype(a.dtype(), py::dtype::of<T>()))
    throw py::type_error(std::string(name) + " must have dtype " + expected + ", got " +
                         std::string(py::str(a.dtype())));
  require_aligned(a, name);
}

// A Python int (not bool) in [lo, hi] as int64, checked without pybind's
// generic cast errors: TypeError / ValueError naming `name`.
std::int64_t checked_int(const py::handle& v, const char* name, std::int64_t lo, std::int64_t hi);

// a * b, or ValueError "<what> is too large" if it overflows size_t or exceeds `max`.
std::size_t checked_mul(std::size_t a, std::size_t b, const char* what,
                        std::size_t max = std::size_t(PTRDIFF_MAX));

// A new C-contiguous array of `shape` with elements of `itemsize` bytes; the
// element count and byte size are checked first (overflow-safe), so an absurd
// shape gives a ValueError naming `what` rather than numpy's or a wrapped size.
template <class T>
py::array_t<T> new_result(const std::vector<std::size_t>& shape, const char* what) {
  std::size_t bytes = sizeof(T);
  for (std::size_t d : shape) bytes = checked_mul(bytes, d, what);
  return py::array_t<T>(std::vector<py::ssize_t>(shape.begin(), shape.end()));
}

// Raises ValueError naming `name` if any of the n floats is NaN (or +-Inf, unless allow_inf).
void require_finite(const float* p, std::size_t n, const char* name, const char* why, bool allow_inf = false);

void require_ndim(const py::array& a, const char* name, int ndim);
void require_c_contiguous(const py::array& a, const char* name);

// Rows of a 2-D array must be contiguous and must not overlap (a stride-0
// broadcast view is refused before anything scans it); returns the row stride
// in elements.
std::size_t row_stride(const py::array& a, const char* name);

// A Python int k as int64 in [0, max]; the message names `name`.
std::int64_t checked_k(const py::handle& k, const char* name, std::int64_t max, const char* why_max);

// An optional output array named `name`: None -> a new float32 (rows, cols) array; else it
// must be a writeable, C-contiguous float32 array of that shape that overlaps none of `inputs`.
py::array_t<float> output_f32(const py::object& out, std::size_t rows, std::size_t cols,
                              const std::vector<const py::array*>& inputs, const char* name = "out");

// Whether a's memory range overlaps b's (never when b is empty).
bool overlaps(const py::array& a, const py::array& b);

// A 1-D C-contiguous array of element type T with one entry per output `per`
// (n of them); returns its data.
template <class T>
const T* per_output(const py::array& a, const char* name, const char* expected, std::size_t n, const char* per) {
  require_dtype<T>(a, name, expected);
  require_ndim(a, name, 1);
  require_c_contiguous(a, name);
  if (std::size_t(a.shape(0)) != n)
    throw py::value_error(std::string(name) + " must have one entry per " + per + " (" + std::to_string(n) +
                          "), got shape " + shape_str(a));
  return static_cast<const T*>(a.data());
}

// A float epilogue's arguments (affine.h): scale a Python number or None (1), bias a float32 array
// with one entry per output `per` (n of them) or None.
driver::Affine affine_arg(const py::object& scale, const py::object& bias, std::size_t n, const char* per);

// A bool array of n flags (one per `per`) packed into words (bit j = flag j);
// None -> an empty vector. Each flag is read as a byte and normalised (any
// nonzero byte is True, as numpy reads it), never shifted in as it is.
std::vector<word_t> pack_flags(const py::object& flags, const char* name, std::size_t n, const char* per);

// Packed rows (rows, words) uint64 with words == words_for(k) and zero padding.
std::size_t check_packed_rows(const py::array& bits, const char* name, std::int64_t k);

// The same, C-contiguous (weights a derivation or a model copies whole); returns the row count.
std::size_t contiguous_packed_rows(const py::array& bits, const char* name, std::int64_t k);

// The operands of an XNOR GEMM: a_bits (m rows) and b_bits (n rows) of k bits,
// with k an int in [0, max_k] (default 2**31 - 1: int32 dot products; `why` says why),
// named a_name and b_name in the errors.
struct PackedOperands {
  const word_t* a;
  std::size_t lda;
  const word_t* b;
  std::size_t ldb;
  std::size_t m, n;
  std::int64_t k;
};
PackedOperands check_packed_operands(const py::array& a_bits, const py::array& b_bits, const py::handle& k_obj,
                                     const char* why, std::int64_t max_k = INT32_MAX, const char* a_name = "a_bits",
                                     const char* b_name = "b_bits");

}  // namespace pbn
