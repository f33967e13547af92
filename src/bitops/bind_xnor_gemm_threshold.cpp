// Binding of the fused binary layer (packed bits in, packed sign bits out).
#include <climits>

#include "bind_util.h"
#include "threads.h"

namespace pbn {

namespace {

py::array_t<word_t> xnor_gemm_threshold(const py::array& a_bits, const py::array& b_bits, const py::handle& k_obj,
                                        const py::array& thresholds, const py::array& flip,
                                        const std::string& isa_name) {
  const Isa isa = resolve_isa(isa_name);
  const std::int64_t k = checked_k(k_obj, "k", INT32_MAX, "the dot products are int32 (k <= 2**31 - 1)");
  const std::size_t lda = check_packed_rows(a_bits, "a_bits", k);
  const std::size_t ldb = check_packed_rows(b_bits, "b_bits", k);
  const std::size_t m = std::size_t(a_bits.shape(0)), n = std::size_t(b_bits.shape(0));
  per_output<std::int32_t>(thresholds, "thresholds", "int32", n, "row of b_bits");
  std::vector<word_t> flips = pack_flags(flip, "flip", n, "row of b_bits");  // bytes normalised to 0/1
  const std::size_t words = words_for(std::size_t(k)), out_words = words_for(n);
  py::array_t<word_t> out = new_result<word_t>({m, out_words}, "the result (rows of a_bits x output words)");
  if (m == 0 || out_words == 0) return out;

  xnor_gemm_threshold_fn* kernel = xnor_gemm_threshold_kernel(isa);
  const auto* a = static_cast<const word_t*>(a_bits.data());
  const auto* b = static_cast<const word_t*>(b_bits.data());
  const auto* t = static_cast<const std::int32_t*>(thresholds.data());
  word_t* c = out.mutable_data();
  {
    py::gil_scoped_release release;
    // Same work split as xnor_gemm, with column chunks at whole output words.
    const std::size_t chunks = plan_chunks(double(m) * double(n) * double(words), 1 << 20);
    if (out_words >= chunks || m < chunks) {
      const std::size_t step = (out_words + chunks - 1) / chunks;  // output words per chunk
      parallel_for(chunks, [&](std::size_t p) {
        const std::size_t w0 = std::min(out_words, p * step), w1 = std::min(out_words, w0 + step);
        const std::size_t j0 = w0 * 64, j1 = std::min(n, w1 * 64);
        if (j0 < j1)
          kernel(a, lda, b + j0 * ldb, ldb, c + w0, out_words, m, j1 - j0, words, k, t + j0, flips.data() + w0);
      });
    } else {
      parallel_for(chunks, [&](std::size_t p) {
        const std::size_t i0 = m * p / chunks, i1 = m * (p + 1) / chunks;
        if (i0 < i1) kernel(a + i0 * lda, lda, b, ldb, c + i0 * out_words, out_words, i1 - i0, n, words, k, t, flips.data());
      });
    }
  }
  return out;
}

}  // namespace

void bind_xnor_gemm_threshold(py::module_& m) {
  m.def("xnor_gemm_threshold", &xnor_gemm_threshold, py::arg("a_bits"), py::arg("b_bits"), py::arg("k"),
        py::arg("thresholds"), py::arg("flip"), py::arg("isa") = "",
        R"pbdoc(Fused binary layer: packed sign bits of the thresholded XNOR GEMM (see pybitnet.xnor_gemm_threshold).)pbdoc");
}

}  // namespace pbn
