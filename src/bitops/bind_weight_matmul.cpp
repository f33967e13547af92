// Bindings of the multiplication-free weight matmuls (binary and ternary
// weights, forward and transposed), plus private instrumented references.
#include <climits>

#include "bind_util.h"
#include "threads.h"

namespace pbn {

namespace {

constexpr std::size_t kColumnAlign = 16;  // output columns per thread chunk: whole SIMD tiles
constexpr std::size_t kRowAlign = 4;      // rows per panel of the forward kernels
// ~16M lane-additions (~0.2 ms at 32 per cycle) per thread is worth a wake-up.
constexpr double kMinAddsPerThread = double(1 << 24);

struct Weights {
  const word_t* s;
  std::size_t lds;
  const word_t* nz;  // nullptr for binary weights
  std::size_t ldnz;
  std::size_t n;
};

// Float32 matrix with contiguous rows; returns the row stride in elements.
std::size_t check_f32_matrix(const py::array& a, const char* name) {
  require_dtype<float>(a, name, "float32");
  require_ndim(a, name, 2);
  if (a.size() == 0) return std::size_t(a.shape(1));  // no data is read; numpy may give odd strides
  return row_stride(a, name);
}

std::int64_t check_k(const py::handle& k_obj) {
  return checked_k(k_obj, "k", std::int64_t(1) << 40, "k must be < 2**40");
}

// check_packed_rows, tolerating the odd strides numpy gives empty arrays.
std::size_t check_packed(const py::array& bits, const char* name, std::int64_t k) {
  if (bits.ndim() == 2 && bits.shape(0) == 0) {
    require_dtype<std::uint64_t>(bits, name, "uint64 (from pack_signs)");
    if (std::size_t(bits.shape(1)) != words_for(std::size_t(k)))
      throw py::value_error(std::string(name) + " has " + std::to_string(bits.shape(1)) + " words per row but k=" +
                            std::to_string(k) + " needs ceil(k/64) = " + std::to_string(words_for(std::size_t(k))));
    return std::size_t(bits.shape(1));
  }
  return check_packed_rows(bits, name, k);
}

Weights check_binary(const py::array& w_bits, std::int64_t k) {
  const std::size_t lds = check_packed(w_bits, "w_bits", k);
  return {static_cast<const word_t*>(w_bits.data()), lds, nullptr, 0, std::size_t(w_bits.shape(0))};
}

Weights check_ternary(const py::array& sign_bits, const py::array& nonzero_bits, std::int64_t k) {
  const std::size_t lds = check_packed(sign_bits, "sign_bits", k);
  const std::size_t ldnz = check_packed(nonzero_bits, "nonzero_bits", k);
  if (sign_bits.shape(0) != nonzero_bits.shape(0))
    throw py::value_error("sign_bits has " + std::to_string(sign_bits.shape(0)) + " rows but nonzero_bits has " +
                          std::to_string(nonzero_bits.shape(0)) + "; both must come from one pack_ternary call");
  Weights w{static_cast<const word_t*>(sign_bits.data()), lds, static_cast<const word_t*>(nonzero_bits.data()),
            ldnz, std::size_t(sign_bits.shape(0))};
  // The kernels rely on sign bits being set only where the weight is nonzero.
  const std::size_t words = words_for(std::size_t(k));
  for (std::size_t r = 0; r < w.n; ++r)
    for (std::size_t q = 0; q < words; ++q)
      if (w.s[r * lds + q] & ~w.nz[r * ldnz + q])
        throw py::value_error("sign_bits row " + std::to_string(r) +
                              " has a sign bit set where nonzero_bits is 0 (use pack_ternary)");
  return w;
}

// Forward: (m, k) @ W.T -> (m, n).
template <class Kernel>
py::array_t<float> forward(const py::array& x, const char* x_name, const Weights& w, std::int64_t k_,
                           const Kernel& kernel, bool threads = true) {
  const std::size_t ldx = check_f32_matrix(x, x_name);
  const std::size_t k = std::size_t(k_);
  if (std::size_t(x.shape(1)) != k)
    throw py::value_error(std::string(x_name) + " has " + std::to_string(x.shape(1)) + " columns but k=" +
                          std::to_string(k) + "; shape " + shape_str(x));
  const std::size_t m = std::size_t(x.shape(0)), n = w.n;
  py::array_t<float> out = new_result<float>({m, n}, "the result (rows of x x rows of the weights)");
  if (m == 0 || n == 0) return out;
  const float* xp = static_cast<const float*>(x.data());
  float* y = out.mutable_data();
  py::gil_scoped_release release;
  const std::size_t chunks = threads ? plan_chunks(double(m) * double(n) * double(k), kMinAddsPerThread) : 1;
  if (n >= chunks * kColumnAlign || m < chunks) {
    const std::size_t step = ((n + chunks - 1) / chunks + kColumnAlign - 1) / kColumnAlign * kColumnAlign;
    parallel_for(chunks, [&](std::size_t t) {
      const std::size_t j0 = std::min(n, t * step), j1 = std::min(n, j0 + step);
      if (j0 < j1) kernel(xp, ldx, j0, y + j0, n, m, j1 - j0, k);
    });
  } else {
    // Rows split at multiples of kRowAlign, so every row lands in the same kind
    // of row panel as in a one-thread call: results do not depend on threads.
    parallel_for(chunks, [&](std::size_t t) {
      const std::size_t i0 = (m * t / chunks) / kRowAlign * kRowAlign;
      const std::size_t i1 = t + 1 == chunks ? m : (m * (t + 1) / chunks) / kRowAlign * kRowAlign;
      if (i0 < i1) kernel(xp + i0 * ldx, ldx, 0, y + i0 * n, n, i1 - i0, n, k);
    });
  }
  return out;
}

// Transposed: (m, n) @ W -> (m, k).
template <class Kernel>
py::array_t<float> transposed(const py::array& g, const Weights& w, std::int64_t k_, const Kernel& kernel,
                              const py::object& out_obj, std::vector<const py::array*> inputs, bool threads = true) {
  const std::size_t ldg = check_f32_matrix(g, "g");
  const std::size_t k = std::size_t(k_);
  if (std::size_t(g.shape(1)) != w.n)
    throw py::value_error("g has " + std::to_string(g.shape(1)) + " columns but the weights have " +
                          std::to_string(w.n) + " rows; shape " + shape_str(g));
  const std::size_t m = std::size_t(g.shape(0)), n = w.n;
  inputs.push_back(&g);
  py::array_t<float> out = output_f32(out_obj, m, k, inputs);
  if (m == 0 || k == 0) return out;
  const float* gp = static_cast<const float*>(g.data());
  float* z = out.mutable_data();
  py::gil_scoped_release release;
  // Split K only (at whole words): kernels may pick their method by the number
  // of rows, so every chunk gets all of them and results do not depend on threads.
  const std::size_t chunks = threads ? std::min(plan_chunks(double(m) * double(n) * double(k), kMinAddsPerThread),
                                                words_for(k))
                                     : 1;
  const std::size_t step = ((k + chunks - 1) / chunks + kWordBits - 1) / kWordBits * kWordBits;
  parallel_for(chunks, [&](std::size_t t) {
    const std::size_t c0 = std::min(k, t * step), c1 = std::min(k, c0 + step);
    if (c0 < c1) kernel(gp, ldg, c0 / kWordBits, z + c0, k, m, n, c1 - c0);
  });
  return out;
}

py::array_t<float> binary_weight_matmul(const py::array& x, const py::array& w_bits, const py::handle& k_obj,
                                        const std::string& isa_name) {
  binary_weight_matmul_fn* kernel = binary_weight_matmul_kernel(resolve_isa(isa_name));
  const std::int64_t k = check_k(k_obj);
  const Weights w = check_binary(w_bits, k);
  return forward(x, "x", w, k, [&](const float* xp, std::size_t ldx, std::size_t j0, float* y, std::size_t ldy,
                                   std::size_t m, std::size_t n, std::size_t kk) {
    kernel(xp, ldx, w.s + j0 * w.lds, w.lds, y, ldy, m, n, kk);
  });
}

py::array_t<float> binary_weight_matmul_t(const py::array& g, const py::array& w_bits, const py::handle& k_obj,
                                          const std::string& isa_name, const py::object& out) {
  binary_weight_matmul_t_fn* kernel = binary_weight_matmul_t_kernel(resolve_isa(isa_name));
  const std::int64_t k = check_k(k_obj);
  const Weights w = check_binary(w_bits, k);
  return transposed(g, w, k, [&](const float* gp, std::size_t ldg, std::size_t word0, float* z, std::size_t ldz,
                                 std::size_t m, std::size_t n, std::size_t kk) {
    kernel(gp, ldg, w.s + word0, w.lds, z, ldz, m, n, kk);
  }, out, {&w_bits});
}

py::array_t<float> ternary_weight_matmul(const py::array& x, const py::array& sign_bits,
                                         const py::array& nonzero_bits, const py::handle& k_obj,
                                         const std::string& isa_name) {
  ternary_weight_matmul_fn* kernel = ternary_weight_matmul_kernel(resolve_isa(isa_name));
  const std::int64_t k = check_k(k_obj);
  const Weights w = check_ternary(sign_bits, nonzero_bits, k);
  return forward(x, "x", w, k, [&](const float* xp, std::size_t ldx, std::size_t j0, float* y, std::size_t ldy,
                                   std::size_t m, std::size_t n, std::size_t kk) {
    kernel(xp, ldx, w.s + j0 * w.lds, w.lds, w.nz + j0 * w.ldnz, w.ldnz, y, ldy, m, n, kk);
  });
}

py::array_t<float> ternary_weight_matmul_t(const py::array& g, const py::array& sign_bits,
                                           const py::array& nonzero_bits, const py::handle& k_obj,
                                           const std::string& isa_name, const py::object& out) {
  ternary_weight_matmul_t_fn* kernel = ternary_weight_matmul_t_kernel(resolve_isa(isa_name));
  const std::int64_t k = check_k(k_obj);
  const Weights w = check_ternary(sign_bits, nonzero_bits, k);
  return transposed(g, w, k, [&](const float* gp, std::size_t ldg, std::size_t word0, float* z, std::size_t ldz,
                                 std::size_t m, std::size_t n, std::size_t kk) {
    kernel(gp, ldg, w.s + word0, w.lds, w.nz + word0, w.ldnz, z, ldz, m, n, kk);
  }, out, {&sign_bits, &nonzero_bits});
}

// Private: run the instrumented scalar reference of `op` (single-threaded) and
// return (result, additions, multiplications) it actually performed. One
// thread, so the tally needs no synchronisation.
py::tuple counted_reference(const std::string& op, const py::array& a, const py::array& s, py::object nz,
                            const py::handle& k_obj) {
  const std::int64_t k = check_k(k_obj);
  const bool ternary = !nz.is_none();
  const Weights w = ternary ? check_ternary(s, nz.cast<py::array>(), k) : check_binary(s, k);
  OpTally tally;
  py::array_t<float> out;
  if (op == "forward") {
    out = forward(a, "x", w, k, [&](const float* xp, std::size_t ldx, std::size_t j0, float* y, std::size_t ldy,
                                    std::size_t m, std::size_t n, std::size_t kk) {
      if (ternary)
        ternary_weight_matmul__counted(xp, ldx, w.s + j0 * w.lds, w.lds, w.nz + j0 * w.ldnz, w.ldnz, y, ldy, m, n,
                                       kk, &tally);
      else
        binary_weight_matmul__counted(xp, ldx, w.s + j0 * w.lds, w.lds, y, ldy, m, n, kk, &tally);
    }, false);
  } else if (op == "transposed") {
    out = transposed(a, w, k, [&](const float* gp, std::size_t ldg, std::size_t word0, float* z, std::size_t ldz,
                                  std::size_t m, std::size_t n, std::size_t kk) {
      if (ternary)
        ternary_weight_matmul_t__counted(gp, ldg, w.s + word0, w.lds, w.nz + word0, w.ldnz, z, ldz, m, n, kk,
                                         &tally);
      else
        binary_weight_matmul_t__counted(gp, ldg, w.s + word0, w.lds, z, ldz, m, n, kk, &tally);
    }, py::none(), {}, false);
  } else {
    throw py::value_error("op must be 'forward' or 'transposed', got '" + op + "'");
  }
  return py::make_tuple(out, tally.additions, tally.multiplications);
}

}  // namespace

void bind_weight_matmul(py::module_& m) {
  m.def("binary_weight_matmul", &binary_weight_matmul, py::arg("x"), py::arg("w_bits"), py::arg("k"),
        py::arg("isa") = "", "x @ sign(W).T from packed W (see pybitnet.binary_weight_matmul).");
  m.def("binary_weight_matmul_t", &binary_weight_matmul_t, py::arg("g"), py::arg("w_bits"), py::arg("k"),
        py::arg("isa") = "", py::arg("out") = py::none(), "g @ sign(W) from packed W (see pybitnet.binary_weight_matmul_t).");
  m.def("ternary_weight_matmul", &ternary_weight_matmul, py::arg("x"), py::arg("sign_bits"),
        py::arg("nonzero_bits"), py::arg("k"), py::arg("isa") = "",
        "x @ T.T for ternary T (see pybitnet.ternary_weight_matmul).");
  m.def("ternary_weight_matmul_t", &ternary_weight_matmul_t, py::arg("g"), py::arg("sign_bits"),
        py::arg("nonzero_bits"), py::arg("k"), py::arg("isa") = "", py::arg("out") = py::none(),
        "g @ T for ternary T (see pybitnet.ternary_weight_matmul_t).");
  m.def("_weight_matmul_counted", &counted_reference, py::arg("op"), py::arg("a"), py::arg("sign_bits"),
        py::arg("nonzero_bits"), py::arg("k"),
        "Private: instrumented scalar reference; returns (result, additions, multiplications).");
}

}  // namespace pbn
