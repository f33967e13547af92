// Argument checks shared by the bindings. Every check names the argument, so
// a bad call from Python gets a clear ValueError/TypeError, never a crash.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

#include "registry.h"

namespace pbn {
namespace py = pybind11;

std::string shape_str(const py::array& a);

// Raises TypeError unless `a` is a numpy array of element type T.
template <class T>
void require_dtype(const py::array& a, const char* name, const char* expected) {
  if (!a.dtype().is(py::dtype::of<T>()))
    throw py::type_error(std::string(name) + " must have dtype " + expected + ", got " +
                         std::string(py::str(a.dtype())));
}

void require_ndim(const py::array& a, const char* name, int ndim);
void require_c_contiguous(const py::array& a, const char* name);

// Rows of a 2-D array must be contiguous; returns the row stride in elements.
std::size_t row_stride(const py::array& a, const char* name);

// A Python int k as int64 in [0, max]; the message names `name`.
std::int64_t checked_k(const py::handle& k, const char* name, std::int64_t max, const char* why_max);

// An optional `out` array: None -> a new float32 (rows, cols) array; else it must be
// a writeable, C-contiguous float32 array of that shape that overlaps none of `inputs`.
py::array_t<float> output_f32(const py::object& out, std::size_t rows, std::size_t cols,
                              const std::vector<const py::array*>& inputs);

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

// A bool array of n flags (one per `per`) packed into words (bit j = flag j);
// None -> an empty vector.
std::vector<word_t> pack_flags(const py::object& flags, const char* name, std::size_t n, const char* per);

// Packed rows (rows, words) uint64 with words == words_for(k) and zero padding.
std::size_t check_packed_rows(const py::array& bits, const char* name, std::int64_t k);

// The operands of an XNOR GEMM: a_bits (m rows) and b_bits (n rows) of k bits,
// with k an int in [0, 2**31 - 1] (int32 dot products; `why` says so).
struct PackedOperands {
  const word_t* a;
  std::size_t lda;
  const word_t* b;
  std::size_t ldb;
  std::size_t m, n;
  std::int64_t k;
};
PackedOperands check_packed_operands(const py::array& a_bits, const py::array& b_bits, const py::handle& k_obj,
                                     const char* why);

}  // namespace pbn
