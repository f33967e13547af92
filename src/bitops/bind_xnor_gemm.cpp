#include <climits>

#include "bind_util.h"
#include "threads.h"

namespace pbn {

namespace {

constexpr std::size_t kColumnAlign = 8;  // the widest micro-kernel tile (AVX-512: 8 columns)

// Runs run(i0, i1, j0, j1) over a split of the (m, n) output, GIL released.
template <class Run>
void split_gemm(std::size_t m, std::size_t n, std::size_t words, const Run& run) {
  py::gil_scoped_release release;
  // ~1M word-pairs (~0.2 ms) per thread is worth a wake-up; batch-1 calls stay inline.
  const std::size_t chunks = plan_chunks(double(m) * double(n) * double(words), 1 << 20);
  if (n >= chunks * kColumnAlign || m < chunks) {
    const std::size_t step = ((n + chunks - 1) / chunks + kColumnAlign - 1) / kColumnAlign * kColumnAlign;
    parallel_for(chunks, [&](std::size_t t) {
      const std::size_t j0 = std::min(n, t * step), j1 = std::min(n, j0 + step);
      if (j0 < j1) run(0, m, j0, j1);
    });
  } else {
    parallel_for(chunks, [&](std::size_t t) {
      const std::size_t i0 = m * t / chunks, i1 = m * (t + 1) / chunks;
      if (i0 < i1) run(i0, i1, 0, n);
    });
  }
}

py::array_t<std::int32_t> xnor_gemm(const py::array& a_bits, const py::array& b_bits, const py::handle& k_obj,
                                    const std::string& isa_name) {
  const Isa isa = resolve_isa(isa_name);
  const std::int64_t k = checked_k(k_obj, "k", INT32_MAX, "the int32 result could overflow (k <= 2**31 - 1)");
  const std::size_t lda = check_packed_rows(a_bits, "a_bits", k);
  const std::size_t ldb = check_packed_rows(b_bits, "b_bits", k);
  const std::size_t m = std::size_t(a_bits.shape(0)), n = std::size_t(b_bits.shape(0));
  const std::size_t words = words_for(std::size_t(k));
  py::array_t<std::int32_t> out = new_result<std::int32_t>({m, n}, "the result (rows of a_bits x rows of b_bits)");
  if (m == 0 || n == 0) return out;

  xnor_gemm_fn* kernel = xnor_gemm_kernel(isa);
  const auto* a = static_cast<const word_t*>(a_bits.data());
  const auto* b = static_cast<const word_t*>(b_bits.data());
  std::int32_t* c = out.mutable_data();
  split_gemm(m, n, words, [&](std::size_t i0, std::size_t i1, std::size_t j0, std::size_t j1) {
    kernel(a + i0 * lda, lda, b + j0 * ldb, ldb, c + i0 * n + j0, n, i1 - i0, j1 - j0, words, k);
  });
  return out;
}

py::array_t<std::int32_t> xnor_gemm_masked(const py::array& a_bits, const py::array& b_bits, const py::handle& k_obj,
                                           const py::array& mask, const std::string& isa_name) {
  const Isa isa = resolve_isa(isa_name);
  const std::int64_t k = checked_k(k_obj, "k", INT32_MAX, "the int32 result could overflow (k <= 2**31 - 1)");
  const std::size_t lda = check_packed_rows(a_bits, "a_bits", k);
  const std::size_t ldb = check_packed_rows(b_bits, "b_bits", k);
  require_dtype<std::uint64_t>(mask, "mask", "uint64 (the nonzero bits of pack_ternary)");
  require_ndim(mask, "mask", 2);
  if (mask.shape(0) != a_bits.shape(0) || mask.shape(1) != a_bits.shape(1))
    throw py::value_error("mask must have the shape of a_bits " + shape_str(a_bits) + ", got " + shape_str(mask));
  const std::size_t ldm = check_packed_rows(mask, "mask", k);  // contiguous rows, zero padding
  const std::size_t m = std::size_t(a_bits.shape(0)), n = std::size_t(b_bits.shape(0));
  const std::size_t words = words_for(std::size_t(k));
  py::array_t<std::int32_t> out({py::ssize_t(m), py::ssize_t(n)});
  if (m == 0 || n == 0) return out;

  xnor_gemm_masked_fn* kernel = xnor_gemm_masked_kernel(isa);
  const auto* a = static_cast<const word_t*>(a_bits.data());
  const auto* mk = static_cast<const word_t*>(mask.data());
  const auto* b = static_cast<const word_t*>(b_bits.data());
  std::int32_t* c = out.mutable_data();
  split_gemm(m, n, words, [&](std::size_t i0, std::size_t i1, std::size_t j0, std::size_t j1) {
    kernel(a + i0 * lda, lda, mk + i0 * ldm, ldm, b + j0 * ldb, ldb, c + i0 * n + j0, n, i1 - i0, j1 - j0, words);
  });
  return out;
}

}  // namespace

void bind_xnor_gemm(py::module_& m) {
  m.def("xnor_gemm", &xnor_gemm, py::arg("a_bits"), py::arg("b_bits"), py::arg("k"), py::arg("isa") = "",
        R"pbdoc(sign(A) @ sign(B).T from packed rows (see pybitnet.xnor_gemm).)pbdoc");
  m.def("xnor_gemm_masked", &xnor_gemm_masked, py::arg("a_bits"), py::arg("b_bits"), py::arg("k"), py::arg("mask"),
        py::arg("isa") = "",
        R"pbdoc(T @ sign(B).T for ternary T = sign(A) * mask from packed rows (see pybitnet.xnor_gemm).)pbdoc");
}

}  // namespace pbn
