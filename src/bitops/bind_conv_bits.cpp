// Bindings of the packed-NHWC convolution helpers: im2col_bits, maxpool_bits, col2im_add,
// the first conv layer and the fused binary conv layer: checks, then conv/driver.h.
#include <climits>
#include <cmath>
#include <utility>
#include <vector>

#include "bind_util.h"
#include "bind_weight_bits.h"
#include "conv/driver.h"

namespace pbn {

namespace {

constexpr std::int64_t kMaxDim = std::int64_t(1) << 30;

std::size_t checked_dim(std::int64_t v, const char* name, std::int64_t min) {
  if (v < min) throw py::value_error(std::string(name) + " must be >= " + std::to_string(min) + ", got " + std::to_string(v));
  if (v > kMaxDim) throw py::value_error(std::string(name) + " is too large: " + std::to_string(v));
  return std::size_t(v);
}

// A geometry argument from Python (any int, however large) as int64 in [min, 2**30].
std::int64_t dim_arg(const py::handle& v, const char* name, std::int64_t min) {
  return checked_int(v, name, min, kMaxDim);
}

// Output pixels n * oh * ow, overflow-checked.
std::size_t pixels_of(std::size_t n, const ConvShape& s) {
  return checked_mul(checked_mul(n, s.oh, "the output (images x rows)"), s.ow, "the output pixels");
}

// A packed NHWC activation: uint64 (n, h, w, words), C-contiguous.
void check_nhwc_bits(const py::array& x, const char* name) {
  require_dtype<std::uint64_t>(x, name, "uint64 (packed signs)");
  require_ndim(x, name, 4);
  require_c_contiguous(x, name);
}

// Every pixel's last word must have zero bits past `channels` (the bit contract the GEMMs rely on).
void check_channel_padding(const py::array& x, const char* name, std::size_t channels) {
  const std::size_t words = std::size_t(x.shape(3));
  if (words != words_for(channels))
    throw py::value_error(std::string(name) + " has " + std::to_string(words) + " words per pixel but channels=" +
                          std::to_string(channels) + " needs ceil(channels/64) = " + std::to_string(words_for(channels)));
  if (words == 0 || channels % kWordBits == 0) return;
  const auto* p = static_cast<const word_t*>(x.data());
  const std::size_t pixels = std::size_t(x.size()) / words;
  const word_t pad = ~last_word_mask(channels);
  for (std::size_t i = 0; i < pixels; ++i)
    if (p[i * words + words - 1] & pad)
      throw py::value_error(std::string(name) + " has nonzero padding bits past channels=" + std::to_string(channels) +
                            " (pack with pack_signs(x, axis=-1))");
}

ConvShape conv_shape(const py::array& x, std::int64_t kh, std::int64_t kw, std::int64_t sh, std::int64_t sw,
                     std::int64_t ph, std::int64_t pw, const char* what) {
  ConvShape s{};
  s.h = std::size_t(x.shape(1));
  s.w = std::size_t(x.shape(2));
  s.words = std::size_t(x.shape(3));
  s.kh = checked_dim(kh, "kernel height", 1);
  s.kw = checked_dim(kw, "kernel width", 1);
  s.sh = checked_dim(sh, "stride", 1);
  s.sw = checked_dim(sw, "stride", 1);
  s.ph = checked_dim(ph, "padding", 0);
  s.pw = checked_dim(pw, "padding", 0);
  if (s.h + 2 * s.ph < s.kh || s.w + 2 * s.pw < s.kw)
    throw py::value_error(std::string(what) + " window " + std::to_string(s.kh) + "x" + std::to_string(s.kw) +
                          " does not fit the padded " + std::to_string(s.h) + "x" + std::to_string(s.w) + " input");
  s.oh = (s.h + 2 * s.ph - s.kh) / s.sh + 1;
  s.ow = (s.w + 2 * s.pw - s.kw) / s.sw + 1;
  return s;
}

// Per-channel bool (channels,) -> packed words (null if none set or None).
py::array_t<word_t> im2col_bits(const py::array& x_bits, const py::handle& kh, const py::handle& kw,
                                const py::handle& sh, const py::handle& sw, const py::handle& ph, const py::handle& pw,
                                const std::string& isa_name) {
  const Target target = resolve_target(isa_name);
  check_nhwc_bits(x_bits, "x_bits");
  const ConvShape s = conv_shape(x_bits, dim_arg(kh, "kernel height", 1), dim_arg(kw, "kernel width", 1),
                                 dim_arg(sh, "stride", 1), dim_arg(sw, "stride", 1), dim_arg(ph, "padding", 0),
                                 dim_arg(pw, "padding", 0), "kernel");
  const std::size_t rows = pixels_of(std::size_t(x_bits.shape(0)), s);
  const std::size_t row_words = checked_mul(checked_mul(s.kh, s.kw, "the patch row (kh x kw)"), s.words,
                                            "the patch row (kh x kw x words)");
  py::array_t<word_t> out = new_result<word_t>({rows, row_words}, "the patch matrix");
  if (rows == 0 || row_words == 0) return out;
  const auto* x = static_cast<const word_t*>(x_bits.data());
  word_t* o = out.mutable_data();
  py::gil_scoped_release release;
  driver::im2col_bits(target, x, s, std::size_t(x_bits.shape(0)), o);
  return out;
}

// The geometry of pooling `x` (NHWC) over kh x kw windows every (sh, sw), no padding.
ConvShape pool_shape(const py::array& x, const py::handle& kh, const py::handle& kw, const py::handle& sh,
                     const py::handle& sw) {
  return conv_shape(x, dim_arg(kh, "pool height", 1), dim_arg(kw, "pool width", 1), dim_arg(sh, "stride", 1),
                    dim_arg(sw, "stride", 1), 0, 0, "pool");
}

py::array_t<word_t> maxpool_bits(const py::array& x_bits, const py::handle& kh, const py::handle& kw,
                                 const py::handle& sh, const py::handle& sw, const py::object& flip,
                                 const std::string& isa_name) {
  const Target target = resolve_target(isa_name);
  check_nhwc_bits(x_bits, "x_bits");
  const ConvShape s = pool_shape(x_bits, kh, kw, sh, sw);
  std::vector<word_t> flips;
  if (!flip.is_none()) {
    if (!py::isinstance<py::array>(flip)) throw py::type_error("flip must be a bool array or None");
    const auto flag = py::reinterpret_borrow<py::array>(flip);
    require_ndim(flag, "flip", 1);
    const std::size_t channels = std::size_t(flag.shape(0));
    flips = pack_flags(flip, "flip", channels, "channel");
    if (flips.size() != s.words)
      throw py::value_error("flip has " + std::to_string(channels) + " channels but x_bits has " +
                            std::to_string(s.words) + " words per pixel (ceil(channels/64) must match)");
  }
  const std::size_t n = std::size_t(x_bits.shape(0)), rows = pixels_of(n, s);
  py::array_t<word_t> out = new_result<word_t>({n, s.oh, s.ow, s.words}, "the pooled output");
  if (rows == 0 || s.words == 0) return out;
  const auto* x = static_cast<const word_t*>(x_bits.data());
  const word_t* f = flips.empty() ? nullptr : flips.data();
  word_t* o = out.mutable_data();
  py::gil_scoped_release release;
  driver::maxpool_bits(target, x, s, n, f, o);
  return out;
}

// out (n, H, W, C) float32, the input gradient of a conv with padding (ph, pw), += the scatter of
// the float patch rows cols (n * oh * ow, kh * kw * C), taps in the padding dropped; returns out.
py::array col2im_add(const py::array& cols, const py::array& out, const py::handle& kh, const py::handle& kw,
                     const py::handle& sh, const py::handle& sw, const py::handle& ph, const py::handle& pw,
                     const std::string& isa_name) {
  const Target target = resolve_target(isa_name);
  require_dtype<float>(cols, "cols", "float32");
  require_ndim(cols, "cols", 2);
  require_c_contiguous(cols, "cols");
  require_dtype<float>(out, "out", "float32");
  require_ndim(out, "out", 4);
  require_c_contiguous(out, "out");
  if (!out.writeable()) throw py::value_error("out must be writeable (col2im_add adds into it)");
  const ConvShape s = conv_shape(out, dim_arg(kh, "kernel height", 1), dim_arg(kw, "kernel width", 1),
                                 dim_arg(sh, "stride", 1), dim_arg(sw, "stride", 1), dim_arg(ph, "padding", 0),
                                 dim_arg(pw, "padding", 0), "kernel");
  const std::size_t n = std::size_t(out.shape(0)), rows = pixels_of(n, s);
  const std::size_t row = checked_mul(s.kh * s.kw, s.words, "the patch row");
  if (std::size_t(cols.shape(0)) != rows || std::size_t(cols.shape(1)) != row)
    throw py::value_error("cols has shape " + shape_str(cols) + " but out " + shape_str(out) + " with a " +
                          std::to_string(s.kh) + "x" + std::to_string(s.kw) + " kernel, stride " +
                          std::to_string(s.sh) + "x" + std::to_string(s.sw) + " needs (" + std::to_string(rows) +
                          ", " + std::to_string(row) + ")");
  if (rows == 0 || row == 0) return out;
  const auto* c = static_cast<const float*>(cols.data());
  auto* o = static_cast<float*>(const_cast<void*>(out.data()));
  if (overlaps(out, cols)) throw py::value_error("cols and out overlap in memory");
  py::gil_scoped_release release;
  driver::col2im_add(target, c, s, n, o);
  return out;
}

// dx (n, H, W, C) float32 += col2im((g @ W) * h): a quantized conv layer's input gradient, product and scatter
// fused per chunk of images (conv/driver.h); W the packed filters (binary, or ternary with w_nonzero).
py::array conv_input_grad(const py::array& g, const py::array& w_signs, const py::object& w_nonzero,
                          const py::handle& k_obj, float h, const py::array& dx, const py::handle& kh,
                          const py::handle& kw, const py::handle& sh, const py::handle& sw, const py::handle& ph,
                          const py::handle& pw, const py::handle& chunk_obj, const std::string& isa_name) {
  const Target target = resolve_target(isa_name);
  const std::int64_t k = check_weight_k(k_obj);
  const driver::WeightBits w = check_weight_bits(w_signs, w_nonzero, k, "w_signs", "w_nonzero");
  const std::size_t ldg = check_f32_matrix(g, "g");
  require_dtype<float>(dx, "dx", "float32");
  require_ndim(dx, "dx", 4);
  require_c_contiguous(dx, "dx");
  if (!dx.writeable()) throw py::value_error("dx must be writeable (conv_input_grad adds into it)");
  if (!std::isfinite(h)) throw py::value_error("h must be finite");
  const ConvShape s = conv_shape(dx, dim_arg(kh, "kernel height", 1), dim_arg(kw, "kernel width", 1),
                                 dim_arg(sh, "stride", 1), dim_arg(sw, "stride", 1), dim_arg(ph, "padding", 0),
                                 dim_arg(pw, "padding", 0), "kernel");
  const std::size_t n = std::size_t(dx.shape(0)), rows = pixels_of(n, s);
  const std::size_t row = checked_mul(s.kh * s.kw, s.words, "the patch row");
  if (std::size_t(k) != row)
    throw py::value_error("k=" + std::to_string(k) + " but the filters of a " + std::to_string(s.kh) + "x" +
                          std::to_string(s.kw) + " kernel over " + std::to_string(s.words) + " channels have " +
                          std::to_string(row) + " taps");
  if (std::size_t(g.shape(0)) != rows || std::size_t(g.shape(1)) != w.n)
    throw py::value_error("g has shape " + shape_str(g) + " but dx " + shape_str(dx) + " and " +
                          std::to_string(w.n) + " filters need (" + std::to_string(rows) + ", " +
                          std::to_string(w.n) + ")");
  const std::size_t chunk = std::size_t(dim_arg(chunk_obj, "chunk_images", 1));
  if (rows == 0 || row == 0) return dx;
  if (overlaps(dx, g)) throw py::value_error("g and dx overlap in memory");
  const auto* gp = static_cast<const float*>(g.data());
  auto* o = static_cast<float*>(const_cast<void*>(dx.data()));
  py::gil_scoped_release release;
  driver::conv_input_grad(target, gp, ldg, w, h, s, n, chunk, o);
  return dx;
}

// Float max-pooling, no padding: y (N, OH, OW, C), np.maximum's rule tap by tap.
py::array_t<float> maxpool_forward(const py::array& x, const py::handle& kh, const py::handle& kw, const py::handle& sh,
                                   const py::handle& sw, const std::string& isa_name) {
  const Target target = resolve_target(isa_name);
  require_dtype<float>(x, "x", "float32");
  require_ndim(x, "x", 4);
  require_c_contiguous(x, "x");
  const ConvShape s = pool_shape(x, kh, kw, sh, sw);
  const std::size_t n = std::size_t(x.shape(0));
  py::array_t<float> y = new_result<float>({n, s.oh, s.ow, s.words}, "y");
  if (y.size() == 0) return y;
  const auto* xp = static_cast<const float*>(x.data());
  float* yp = y.mutable_data();
  py::gil_scoped_release release;
  driver::maxpool_forward(target, xp, s, n, yp);
  return y;
}

// The gradient of non-overlapping float max-pooling: dx (x's shape) = grad where x equals its window's max y.
py::array_t<float> maxpool_backward(const py::array& x, const py::array& y, const py::array& grad, const py::handle& kh,
                                    const py::handle& kw, const py::handle& sh, const py::handle& sw,
                                    const std::string& isa_name) {
  const Target target = resolve_target(isa_name);
  for (const auto& [a, name] : {std::pair<const py::array&, const char*>{x, "x"}, {y, "y"}, {grad, "grad"}}) {
    require_dtype<float>(a, name, "float32");
    require_ndim(a, name, 4);
    require_c_contiguous(a, name);
  }
  const ConvShape s = pool_shape(x, kh, kw, sh, sw);
  if (s.sh < s.kh || s.sw < s.kw)
    throw py::value_error("maxpool_backward needs windows that do not overlap (stride >= size)");
  const std::size_t n = std::size_t(x.shape(0));
  for (const auto& [a, name] : {std::pair<const py::array&, const char*>{y, "y"}, {grad, "grad"}})
    if (std::size_t(a.shape(0)) != n || std::size_t(a.shape(1)) != s.oh || std::size_t(a.shape(2)) != s.ow ||
        std::size_t(a.shape(3)) != s.words)
      throw py::value_error(std::string(name) + " has shape " + shape_str(a) + " but the pooled x " + shape_str(x) +
                            " is (" + std::to_string(n) + ", " + std::to_string(s.oh) + ", " + std::to_string(s.ow) +
                            ", " + std::to_string(s.words) + ")");
  py::array_t<float> dx = new_result<float>({n, s.h, s.w, s.words}, "dx");
  if (dx.size() == 0) return dx;
  const auto* xp = static_cast<const float*>(x.data());
  const auto* yp = static_cast<const float*>(y.data());
  const auto* gp = static_cast<const float*>(grad.data());
  float* dp = dx.mutable_data();
  py::gil_scoped_release release;
  driver::maxpool_backward(target, xp, yp, gp, s, n, dp);
  return dx;
}

// sign of the thresholded binary conv, packed: x (n, h, w, ceil(C/64)) and
// filters (F, kh, kw, ceil(C/64)), +1 (zero-word) spatial padding.
py::array_t<word_t> binary_conv2d_threshold(const py::array& x_bits, const py::array& w_bits,
                                            const py::handle& channels, const py::array& thresholds,
                                            const py::object& flip, const py::handle& sh, const py::handle& sw,
                                            const py::handle& ph, const py::handle& pw, const std::string& isa_name) {
  const Target target = resolve_target(isa_name);
  check_nhwc_bits(x_bits, "x_bits");
  check_nhwc_bits(w_bits, "w_bits");
  const std::size_t c = std::size_t(dim_arg(channels, "channels", 1));
  const ConvShape s = conv_shape(x_bits, w_bits.shape(1), w_bits.shape(2), dim_arg(sh, "stride", 1),
                                 dim_arg(sw, "stride", 1), dim_arg(ph, "padding", 0), dim_arg(pw, "padding", 0),
                                 "kernel");
  check_channel_padding(x_bits, "x_bits", c);
  check_channel_padding(w_bits, "w_bits", c);
  const std::size_t f = std::size_t(w_bits.shape(0));
  const double k_d = double(s.kh) * double(s.kw) * double(c);
  if (k_d > double(INT32_MAX)) throw py::value_error("kh * kw * channels must be < 2**31 (int32 dot products)");
  const std::int64_t k = std::int64_t(k_d);
  per_output<std::int32_t>(thresholds, "thresholds", "int32", f, "filter");
  std::vector<word_t> flips = pack_flags(flip, "flip", f, "filter");
  if (flips.empty()) flips.assign(words_for(f) + 1, 0);  // None: no flipped channel
  const std::size_t n = std::size_t(x_bits.shape(0)), rows = pixels_of(n, s), out_words = words_for(f);
  py::array_t<word_t> out = new_result<word_t>({n, s.oh, s.ow, out_words}, "the conv output");
  if (rows == 0 || f == 0) return out;

  const auto* x = static_cast<const word_t*>(x_bits.data());
  const auto* w = static_cast<const word_t*>(w_bits.data());
  const auto* t = static_cast<const std::int32_t*>(thresholds.data());
  word_t* o = out.mutable_data();
  py::gil_scoped_release release;
  driver::binary_conv2d_threshold(target, x, s, n, w, f, k, t, flips.data(), o);
  return out;
}

// The first conv layer: float NHWC input, packed +-1 filter rows (F, ceil(KH*KW*C/64)) in (kh, kw, c) order.
py::array_t<word_t> first_conv_threshold(const py::array& x, const py::array& w_bits, const py::handle& kh,
                                         const py::handle& kw, const py::array& thresholds, const py::object& flip,
                                         const py::handle& sh, const py::handle& sw, const py::handle& ph,
                                         const py::handle& pw, const std::string& isa_name) {
  const Target target = resolve_target(isa_name);
  require_dtype<float>(x, "x", "float32");
  require_ndim(x, "x", 4);
  require_c_contiguous(x, "x");
  // s.words: channels (floats per pixel)
  ConvShape s = conv_shape(x, dim_arg(kh, "kernel height", 1), dim_arg(kw, "kernel width", 1), dim_arg(sh, "stride", 1),
                           dim_arg(sw, "stride", 1), dim_arg(ph, "padding", 0), dim_arg(pw, "padding", 0), "kernel");
  const std::size_t c = s.words;
  if (c == 0) throw py::value_error("x must have at least one channel");
  // Taps per filter; overflow-checked (2**30 x 2**30 x 16 wrapped to 0 and crashed).
  const std::size_t k = checked_mul(checked_mul(s.kh, s.kw, "kh * kw"), c, "kh * kw * channels (taps per filter)",
                                    std::size_t(INT32_MAX));
  const std::size_t ldb = check_packed_rows(w_bits, "w_bits", std::int64_t(k));
  const std::size_t f = std::size_t(w_bits.shape(0));
  require_finite(per_output<float>(thresholds, "thresholds", "float32", f, "filter"), f, "thresholds",
                 "a NaN threshold compares false with every sum", true);
  std::vector<word_t> flips = pack_flags(flip, "flip", f, "filter");
  if (flips.empty()) flips.assign(words_for(f) + 1, 0);
  const std::size_t n = std::size_t(x.shape(0)), rows = pixels_of(n, s), out_words = words_for(f);
  py::array_t<word_t> out = new_result<word_t>({n, s.oh, s.ow, out_words}, "the conv output");
  if (rows == 0 || f == 0) return out;
  // NaN/Inf compare false with every threshold: a silent +1 (the CNN then predicted class 0).
  require_finite(static_cast<const float*>(x.data()), std::size_t(x.size()), "x", "the conv has no sign for it");
  checked_mul(k, words_for(f), "the transposed filters");  // the driver's copy of the filters, per tap
  const auto* xp = static_cast<const float*>(x.data());
  const auto* wb = static_cast<const word_t*>(w_bits.data());
  const auto* t = static_cast<const float*>(thresholds.data());
  word_t* o = out.mutable_data();
  py::gil_scoped_release release;
  driver::first_conv_threshold(target, xp, s, n, wb, ldb, f, t, flips.data(), o);
  return out;
}

}  // namespace

void bind_conv_bits(py::module_& m) {
  m.def("im2col_bits", &im2col_bits, py::arg("x_bits"), py::arg("kh"), py::arg("kw"), py::arg("sh"), py::arg("sw"),
        py::arg("ph"), py::arg("pw"), py::arg("isa") = "",
        R"pbdoc(Packed patch rows of NHWC bits (see pybitnet.inference.conv.im2col_bits).)pbdoc");
  m.def("maxpool_bits", &maxpool_bits, py::arg("x_bits"), py::arg("kh"), py::arg("kw"), py::arg("sh"), py::arg("sw"),
        py::arg("flip") = py::none(), py::arg("isa") = "",
        R"pbdoc(Max-pooling of packed +-1 NHWC bits (see pybitnet.inference.conv.max_pool2d_bits).)pbdoc");
  m.def("col2im_add", &col2im_add, py::arg("cols"), py::arg("out"), py::arg("kh"), py::arg("kw"), py::arg("sh"),
        py::arg("sw"), py::arg("ph") = 0, py::arg("pw") = 0, py::arg("isa") = "",
        R"pbdoc(out (n, H, W, C), the input gradient of a conv padded by (ph, pw), += the scatter of float
patch rows cols (n * oh * ow, kh * kw * C), tap by tap, taps in the padding dropped; returns out
(see pybitnet.conv_bits.col2im_add).)pbdoc");
  m.def("conv_input_grad", &conv_input_grad, py::arg("g"), py::arg("w_signs"), py::arg("w_nonzero"), py::arg("k"),
        py::arg("h"), py::arg("dx"), py::arg("kh"), py::arg("kw"), py::arg("sh"), py::arg("sw"), py::arg("ph"),
        py::arg("pw"), py::arg("chunk_images"), py::arg("isa") = "",
        R"pbdoc(dx (n, H, W, C) += col2im((g @ W) * h) for packed filters W, product and scatter fused per chunk of
images (see pybitnet.nn._ops.conv_input_grad).)pbdoc");
  m.def("maxpool_forward", &maxpool_forward, py::arg("x"), py::arg("kh"), py::arg("kw"), py::arg("sh"), py::arg("sw"),
        py::arg("isa") = "",
        R"pbdoc(Float max-pooling of NHWC x (no padding; windows may overlap), np.maximum's rule tap by tap (a NaN
propagates, a tie takes the later tap): y (N, OH, OW, C).)pbdoc");
  m.def("maxpool_backward", &maxpool_backward, py::arg("x"), py::arg("y"), py::arg("grad"), py::arg("kh"),
        py::arg("kw"), py::arg("sh"), py::arg("sw"), py::arg("isa") = "",
        R"pbdoc(The gradient of non-overlapping float max-pooling: grad where x equals its window's max y, else +0.)pbdoc");
  m.def("first_conv_threshold", &first_conv_threshold, py::arg("x"), py::arg("w_bits"), py::arg("kh"),
        py::arg("kw"), py::arg("thresholds"), py::arg("flip"), py::arg("sh"), py::arg("sw"), py::arg("ph"),
        py::arg("pw"), py::arg("isa") = "",
        R"pbdoc(First conv layer: float NHWC input, packed +-1 filters, float thresholds -> packed NHWC signs.)pbdoc");
  m.def("binary_conv2d_threshold", &binary_conv2d_threshold, py::arg("x_bits"), py::arg("w_bits"),
        py::arg("channels"), py::arg("thresholds"), py::arg("flip"), py::arg("sh"), py::arg("sw"), py::arg("ph"),
        py::arg("pw"), py::arg("isa") = "",
        R"pbdoc(Fused binary conv layer on packed NHWC bits (see pybitnet.inference.conv.binary_conv2d_threshold).)pbdoc");
}

}  // namespace pbn
