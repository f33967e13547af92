// Bindings of the fused binary layer (packed bits in, packed sign bits out),
// through the row tile or, for tests, the column-panel kernel: checks, then
// xnor_gemm/driver.h.
#include <climits>

#include "bind_util.h"
#include "xnor_gemm/driver.h"

namespace pbn {

namespace {

py::array_t<word_t> threshold_gemm(bool panels, const py::array& a_bits, const py::array& b_bits,
                                   const py::handle& k_obj, const py::array& thresholds, const py::array& flip,
                                   const std::string& isa_name) {
  const Target target = resolve_target(isa_name);
  const PackedOperands o =
      check_packed_operands(a_bits, b_bits, k_obj, "the dot products are int32 (k <= 2**31 - 1)");
  const auto* t = per_output<std::int32_t>(thresholds, "thresholds", "int32", o.n, "row of b_bits");
  const std::vector<word_t> flips = pack_flags(flip, "flip", o.n, "row of b_bits");  // bytes normalised to 0/1
  const std::size_t out_words = words_for(o.n);
  py::array_t<word_t> out = new_result<word_t>({o.m, out_words}, "the result (rows of a_bits x output words)");
  if (o.m == 0 || o.n == 0) return out;
  word_t* c = out.mutable_data();
  py::gil_scoped_release release;
  if (panels)
    driver::xnor_gemm_threshold_panels(target, o.a, o.lda, o.b, o.ldb, c, out_words, o.m, o.n, o.k, t, flips.data());
  else
    driver::xnor_gemm_threshold(target, o.a, o.lda, o.b, o.ldb, c, out_words, o.m, o.n, o.k, t, flips.data());
  return out;
}

}  // namespace

void bind_xnor_gemm_threshold(py::module_& m) {
  m.def("xnor_gemm_threshold", [](const py::array& a_bits, const py::array& b_bits, const py::handle& k,
                                  const py::array& thresholds, const py::array& flip, const std::string& isa) {
    return threshold_gemm(false, a_bits, b_bits, k, thresholds, flip, isa);
  }, py::arg("a_bits"), py::arg("b_bits"), py::arg("k"), py::arg("thresholds"), py::arg("flip"), py::arg("isa") = "",
        R"pbdoc(Fused binary layer: packed sign bits of the thresholded XNOR GEMM (see pybitnet.xnor_gemm_threshold).)pbdoc");
  m.def("xnor_gemm_threshold_panels", [](const py::array& a_bits, const py::array& b_bits, const py::handle& k,
                                         const py::array& thresholds, const py::array& flip, const std::string& isa) {
    return threshold_gemm(true, a_bits, b_bits, k, thresholds, flip, isa);
  }, py::arg("a_bits"), py::arg("b_bits"), py::arg("k"), py::arg("thresholds"), py::arg("flip"), py::arg("isa") = "",
        R"pbdoc(xnor_gemm_threshold through the column-panel kernel (for tests).)pbdoc");
}

}  // namespace pbn
