// Binding of the shift-add weight gradient dequantize_pow2(codes).T @ g, in
// float (exponent-field adds) or fixed point (int32 shifts).
#include <cmath>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include "bind_util.h"
#include "pow2/pow2_code.h"
#include "threads.h"

namespace pbn {

namespace {

constexpr std::size_t kColumnAlign = 64;  // the widest column tile (AVX-512: 4 x 16 floats)

struct Operands {
  std::size_t m, k, n, ldc, ldg;
};

Operands check_operands(const py::array& codes, const py::array& g) {
  require_dtype<std::int8_t>(codes, "codes", "int8 (from quantize_pow2)");
  require_ndim(codes, "codes", 2);
  require_dtype<float>(g, "g", "float32");
  require_ndim(g, "g", 2);
  if (codes.shape(0) != g.shape(0))
    throw py::value_error("codes has M=" + std::to_string(codes.shape(0)) + " rows but g has M=" +
                          std::to_string(g.shape(0)) + "; shapes " + shape_str(codes) + " and " + shape_str(g));
  Operands o{std::size_t(codes.shape(0)), std::size_t(codes.shape(1)), std::size_t(g.shape(1)), 0, 0};
  // Empty arrays can carry any strides; they are never read.
  o.ldc = codes.size() ? row_stride(codes, "codes") : o.k;
  o.ldg = g.size() ? row_stride(g, "g") : o.n;
  const auto* c = static_cast<const std::int8_t*>(codes.data());
  for (std::size_t i = 0; i < o.m; ++i)
    for (std::size_t j = 0; j < o.k; ++j)
      if (c[i * o.ldc + j] == kPow2Invalid)
        throw py::value_error("codes contains -128, which is not a power-of-two code");
  return o;
}

// Splits the (K, N) output over threads: by column blocks when N is wide
// enough, else by rows. body(k0, k1, n0, n1).
template <class Body>
void split_output(const Operands& o, const Body& body) {
  const std::size_t chunks = plan_chunks(double(o.m) * double(o.k) * double(o.n), 1 << 21);
  if (o.n >= chunks * kColumnAlign || o.k < chunks) {
    const std::size_t step = ((o.n + chunks - 1) / chunks + kColumnAlign - 1) / kColumnAlign * kColumnAlign;
    parallel_for(chunks, [&](std::size_t t) {
      const std::size_t n0 = std::min(o.n, t * step), n1 = std::min(o.n, n0 + step);
      if (n0 < n1) body(0, o.k, n0, n1);
    });
  } else {
    parallel_for(chunks, [&](std::size_t t) {
      const std::size_t k0 = o.k * t / chunks, k1 = o.k * (t + 1) / chunks;
      if (k0 < k1) body(k0, k1, 0, o.n);
    });
  }
}

// Round to nearest even (|v| < 2^31).
inline std::int32_t round_to_int(float v) {
#if defined(__SSE__)
  return _mm_cvtss_si32(_mm_set_ss(v));  // MXCSR default: nearest even
#else
  return std::int32_t(std::nearbyint(v));
#endif
}

// The fraction bits F of the fixed-point variant from A = max_k(sum_i 2^e[i,k])
// and gmax = max|g|: the largest F with
//   A * gmax * 2^F <= 2^29  (every int32 partial sum stays below 2^29 + (A + M) / 2 < 2^31) and
//   gmax * 2^F <= 2^29      (q = round(g * 2^F) itself fits in int32 with room: |q| <= 2^29).
// The second condition binds when A < 1 (small codes): without it g * 2^F
// overflowed int32 (cvtss2si gives -2^31) and outputs had the wrong sign.
// Self-contained, so it can move into a driver (see docs/KERNELS.md).
int fixed_frac_bits(double a, double gmax) {
  if (a == 0.0 || gmax == 0.0) return 0;
  int x_ag, x_g;
  std::frexp(a * gmax, &x_ag);  // a * gmax < 2^x_ag
  std::frexp(gmax, &x_g);       // gmax < 2^x_g
  return std::min(29 - x_ag, 29 - x_g);
}

int fixed_frac_bits_of(const py::array& codes, const py::array& g, const Operands& o) {
  const auto* c = static_cast<const std::int8_t*>(codes.data());
  const auto* gp = static_cast<const float*>(g.data());
  double pow2[256];  // |value| of each code, by its byte
  for (int b = 0; b < 256; ++b) pow2[b] = b ? std::fabs(double(bits_f32(pow2_decode_bits(std::int8_t(b))))) : 0.0;
  std::vector<double> col(o.k, 0.0);
  for (std::size_t i = 0; i < o.m; ++i)
    for (std::size_t j = 0; j < o.k; ++j) col[j] += pow2[std::uint8_t(c[i * o.ldc + j])];
  double a = 0.0, gmax = 0.0;
  for (double v : col) a = std::max(a, v);
  for (std::size_t i = 0; i < o.m; ++i)
    for (std::size_t j = 0; j < o.n; ++j) {
      const float v = gp[i * o.ldg + j];
      if (!std::isfinite(v)) throw py::value_error("g must be finite for method='fixed' (it has Inf or NaN)");
      gmax = std::max(gmax, double(std::fabs(v)));
    }
  if (a + double(o.m) > double(1 << 30))
    throw py::value_error("codes' exponents are too large for method='fixed' (max column sum of 2^e is " +
                          std::to_string(a) + " > 2^30 - M); use method='float'");
  return fixed_frac_bits(a, gmax);
}

py::array_t<float> shift_matmul(const py::array& codes, const py::array& g, const std::string& method,
                                const std::string& isa_name) {
  const Isa isa = resolve_isa(isa_name);
  if (method != "float" && method != "fixed")
    throw py::value_error("method must be 'float' or 'fixed', got '" + method + "'");
  const Operands o = check_operands(codes, g);
  py::array_t<float> out = new_result<float>({o.k, o.n}, "the result (columns of codes x columns of g)");
  float* dst = out.mutable_data();
  if (o.k == 0 || o.n == 0) return out;
  if (o.m == 0) {
    std::fill_n(dst, o.k * o.n, 0.0f);
    return out;
  }
  const auto* c = static_cast<const std::int8_t*>(codes.data());
  if (method == "float") {
    shift_matmul_fn* kernel = shift_matmul_kernel(isa);
    const auto* gp = static_cast<const float*>(g.data());
    py::gil_scoped_release release;
    split_output(o, [&](std::size_t k0, std::size_t k1, std::size_t n0, std::size_t n1) {
      kernel(c, o.ldc, gp, o.ldg, dst, o.n, o.m, k0, k1, n0, n1);
    });
    return out;
  }
  const int frac_bits = fixed_frac_bits_of(codes, g, o);
  std::vector<std::int32_t> q(o.m * o.n);
  const auto* gp = static_cast<const float*>(g.data());
  for (std::size_t i = 0; i < o.m; ++i)
    for (std::size_t j = 0; j < o.n; ++j)
      // g * 2^F is exact (or below 2^-126, rounding to 0 anyway); cvtss2si rounds to nearest even.
      q[i * o.n + j] = round_to_int(bits_f32(ldexp_bits(f32_bits(gp[i * o.ldg + j]), frac_bits)));
  shift_matmul_fixed_fn* kernel = shift_matmul_fixed_kernel(isa);
  py::gil_scoped_release release;
  split_output(o, [&](std::size_t k0, std::size_t k1, std::size_t n0, std::size_t n1) {
    kernel(c, o.ldc, q.data(), o.n, dst, o.n, o.m, k0, k1, n0, n1, frac_bits);
  });
  return out;
}

}  // namespace

void bind_shift_matmul(py::module_& m) {
  m.def("shift_matmul", &shift_matmul, py::arg("codes"), py::arg("g"), py::arg("method") = "float",
        py::arg("isa") = "", R"pbdoc(dequantize_pow2(codes).T @ g by shifts and adds (see pybitnet.shift_matmul).)pbdoc");
  m.def("shift_matmul_frac_bits", [](const py::array& codes, const py::array& g) {
    const Operands o = check_operands(codes, g);
    return fixed_frac_bits_of(codes, g, o);
  }, py::arg("codes"), py::arg("g"), "The fraction bits F method='fixed' uses for these operands.");
}

}  // namespace pbn
