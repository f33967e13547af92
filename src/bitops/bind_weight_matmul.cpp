// Bindings of the multiplication-free weight matmuls (binary and ternary
// weights, forward and transposed), plus the private instrumented reference:
// checks, then weight_matmul/driver.h.
#include <climits>

#include "bind_util.h"
#include "bind_weight_bits.h"

namespace pbn {

using Weights = driver::WeightBits;

std::size_t check_f32_matrix(const py::array& a, const char* name) {
  require_dtype<float>(a, name, "float32");
  require_ndim(a, name, 2);
  if (a.size() == 0) return std::size_t(a.shape(1));  // no data is read; numpy may give odd strides
  return row_stride(a, name);
}

std::int64_t check_weight_k(const py::handle& k_obj) {
  return checked_k(k_obj, "k", std::int64_t(1) << 40, "k must be < 2**40");
}

// check_packed_rows, tolerating the odd strides numpy gives empty arrays.
static std::size_t check_packed(const py::array& bits, const char* name, std::int64_t k) {
  if (bits.ndim() == 2 && bits.shape(0) == 0) {
    require_dtype<std::uint64_t>(bits, name, "uint64 (from pack_signs)");
    if (std::size_t(bits.shape(1)) != words_for(std::size_t(k)))
      throw py::value_error(std::string(name) + " has " + std::to_string(bits.shape(1)) + " words per row but k=" +
                            std::to_string(k) + " needs ceil(k/64) = " + std::to_string(words_for(std::size_t(k))));
    return std::size_t(bits.shape(1));
  }
  return check_packed_rows(bits, name, k);
}

Weights check_binary(const py::array& w_bits, std::int64_t k, const char* name) {
  const std::size_t lds = check_packed(w_bits, name, k);
  return {static_cast<const word_t*>(w_bits.data()), lds, nullptr, 0, std::size_t(w_bits.shape(0))};
}

Weights check_ternary(const py::array& sign_bits, const py::array& nonzero_bits, std::int64_t k,
                      const char* sign_name, const char* nonzero_name) {
  const std::size_t lds = check_packed(sign_bits, sign_name, k);
  const std::size_t ldnz = check_packed(nonzero_bits, nonzero_name, k);
  if (sign_bits.shape(0) != nonzero_bits.shape(0))
    throw py::value_error(std::string(sign_name) + " has " + std::to_string(sign_bits.shape(0)) + " rows but " +
                          nonzero_name + " has " + std::to_string(nonzero_bits.shape(0)) +
                          "; both must come from one pack_ternary call");
  Weights w{static_cast<const word_t*>(sign_bits.data()), lds, static_cast<const word_t*>(nonzero_bits.data()),
            ldnz, std::size_t(sign_bits.shape(0))};
  // The kernels rely on sign bits being set only where the weight is nonzero.
  const std::size_t words = words_for(std::size_t(k));
  for (std::size_t r = 0; r < w.n; ++r)
    for (std::size_t q = 0; q < words; ++q)
      if (w.s[r * lds + q] & ~w.nz[r * ldnz + q])
        throw py::value_error(std::string(sign_name) + " row " + std::to_string(r) + " has a sign bit set where " +
                              nonzero_name + " is 0 (use pack_ternary)");
  return w;
}

Weights check_weight_bits(const py::array& sign_bits, const py::object& nonzero_bits, std::int64_t k,
                          const char* sign_name, const char* nonzero_name) {
  return nonzero_bits.is_none() ? check_binary(sign_bits, k, sign_name)
                                : check_ternary(sign_bits, nonzero_bits.cast<py::array>(), k, sign_name, nonzero_name);
}

namespace {

// Forward: a (m, k) @ W.T -> (m, n); transposed: a (m, n) @ W -> (m, k) (into
// `out` if given). With a tally, through the instrumented reference.
py::array_t<float> product(bool transposed, const py::array& a, const char* a_name, const Weights& w,
                           std::int64_t k_, const Target& target, const py::object& out_obj = py::none(),
                           std::vector<const py::array*> inputs = {}, OpTally* tally = nullptr,
                           driver::Affine epilogue = {}) {
  const std::size_t lda = check_f32_matrix(a, a_name);
  const std::size_t k = std::size_t(k_), m = std::size_t(a.shape(0));
  const std::size_t cols_in = transposed ? w.n : k, cols_out = transposed ? k : w.n;
  if (std::size_t(a.shape(1)) != cols_in)
    throw py::value_error(std::string(a_name) + " has " + std::to_string(a.shape(1)) + " columns but " +
                          (transposed ? "the weights have " + std::to_string(w.n) + " rows"
                                      : "k=" + std::to_string(k)) +
                          "; shape " + shape_str(a));
  inputs.push_back(&a);
  py::array_t<float> out = transposed ? output_f32(out_obj, m, cols_out, inputs)
                                      : new_result<float>({m, cols_out}, "the result (rows of x x rows of the weights)");
  if (m == 0 || cols_out == 0) return out;
  const float* ap = static_cast<const float*>(a.data());
  float* o = out.mutable_data();
  py::gil_scoped_release release;
  if (tally)
    driver::weight_matmul_counted(transposed, ap, lda, w, o, cols_out, m, k, tally);
  else if (transposed)
    driver::weight_matmul_t(target, ap, lda, w, o, cols_out, m, k);
  else
    driver::weight_matmul(target, ap, lda, w, o, cols_out, m, k, epilogue);
  return out;
}

py::array_t<float> binary_weight_matmul(const py::array& x, const py::array& w_bits, const py::handle& k_obj,
                                        const std::string& isa_name, const py::object& scale, const py::object& bias) {
  const Target target = resolve_target(isa_name);
  const std::int64_t k = check_weight_k(k_obj);
  const Weights w = check_binary(w_bits, k);
  return product(false, x, "x", w, k, target, py::none(), {}, nullptr, affine_arg(scale, bias, w.n, "weight row"));
}

py::array_t<float> binary_weight_matmul_t(const py::array& g, const py::array& w_bits, const py::handle& k_obj,
                                          const std::string& isa_name, const py::object& out) {
  const Target target = resolve_target(isa_name);
  const std::int64_t k = check_weight_k(k_obj);
  const Weights w = check_binary(w_bits, k);
  return product(true, g, "g", w, k, target, out, {&w_bits});
}

py::array_t<float> ternary_weight_matmul(const py::array& x, const py::array& sign_bits,
                                         const py::array& nonzero_bits, const py::handle& k_obj,
                                         const std::string& isa_name, const py::object& scale,
                                         const py::object& bias) {
  const Target target = resolve_target(isa_name);
  const std::int64_t k = check_weight_k(k_obj);
  const Weights w = check_ternary(sign_bits, nonzero_bits, k);
  return product(false, x, "x", w, k, target, py::none(), {}, nullptr, affine_arg(scale, bias, w.n, "weight row"));
}

py::array_t<float> ternary_weight_matmul_t(const py::array& g, const py::array& sign_bits,
                                           const py::array& nonzero_bits, const py::handle& k_obj,
                                           const std::string& isa_name, const py::object& out) {
  const Target target = resolve_target(isa_name);
  const std::int64_t k = check_weight_k(k_obj);
  const Weights w = check_ternary(sign_bits, nonzero_bits, k);
  return product(true, g, "g", w, k, target, out, {&sign_bits, &nonzero_bits});
}

// Private: run the instrumented scalar reference of `op` (single-threaded) and
// return (result, additions, multiplications) it actually performed. One
// thread, so the tally needs no synchronisation.
py::tuple counted_reference(const std::string& op, const py::array& a, const py::array& s, py::object nz,
                            const py::handle& k_obj) {
  const std::int64_t k = check_weight_k(k_obj);
  const Weights w = check_weight_bits(s, nz, k, "w_bits", "nonzero_bits");
  OpTally tally;
  py::array_t<float> out;
  if (op != "forward" && op != "transposed")
    throw py::value_error("op must be 'forward' or 'transposed', got '" + op + "'");
  out = product(op == "transposed", a, op == "forward" ? "x" : "g", w, k, Target{}, py::none(), {}, &tally);
  return py::make_tuple(out, tally.additions, tally.multiplications);
}

}  // namespace

void bind_weight_matmul(py::module_& m) {
  m.def("binary_weight_matmul", &binary_weight_matmul, py::arg("x"), py::arg("w_bits"), py::arg("k"),
        py::arg("isa") = "", py::arg("scale") = py::none(), py::arg("bias") = py::none(),
        "x @ sign(W).T from packed W, then * scale and + bias with either (see pybitnet.binary_weight_matmul).");
  m.def("binary_weight_matmul_t", &binary_weight_matmul_t, py::arg("g"), py::arg("w_bits"), py::arg("k"),
        py::arg("isa") = "", py::arg("out") = py::none(), "g @ sign(W) from packed W (see pybitnet.binary_weight_matmul_t).");
  m.def("ternary_weight_matmul", &ternary_weight_matmul, py::arg("x"), py::arg("sign_bits"),
        py::arg("nonzero_bits"), py::arg("k"), py::arg("isa") = "", py::arg("scale") = py::none(),
        py::arg("bias") = py::none(),
        "x @ T.T for ternary T, then * scale and + bias with either (see pybitnet.ternary_weight_matmul).");
  m.def("ternary_weight_matmul_t", &ternary_weight_matmul_t, py::arg("g"), py::arg("sign_bits"),
        py::arg("nonzero_bits"), py::arg("k"), py::arg("isa") = "", py::arg("out") = py::none(),
        "g @ T for ternary T (see pybitnet.ternary_weight_matmul_t).");
  m.def("_weight_matmul_counted", &counted_reference, py::arg("op"), py::arg("a"), py::arg("sign_bits"),
        py::arg("nonzero_bits"), py::arg("k"),
        "Private: instrumented scalar reference; returns (result, additions, multiplications).");
}

}  // namespace pbn
