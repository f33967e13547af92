// Bindings of the packed-NHWC convolution helpers: im2col_bits, maxpool_bits,
// the first conv layer and the fused binary conv layer: checks, then conv/driver.h.
#include <climits>
#include <vector>

#include "bind_util.h"
#include "conv/driver.h"

namespace pbn {

namespace {

std::size_t checked_dim(std::int64_t v, const char* name, std::int64_t min) {
  if (v < min) throw py::value_error(std::string(name) + " must be >= " + std::to_string(min) + ", got " + std::to_string(v));
  if (v > (std::int64_t(1) << 30)) throw py::value_error(std::string(name) + " is too large: " + std::to_string(v));
  return std::size_t(v);
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
py::array_t<word_t> im2col_bits(const py::array& x_bits, std::int64_t kh, std::int64_t kw, std::int64_t sh,
                                std::int64_t sw, std::int64_t ph, std::int64_t pw, const std::string& isa_name) {
  const Target target = resolve_target(isa_name);
  check_nhwc_bits(x_bits, "x_bits");
  const ConvShape s = conv_shape(x_bits, kh, kw, sh, sw, ph, pw, "kernel");
  const std::size_t rows = std::size_t(x_bits.shape(0)) * s.oh * s.ow, row_words = s.kh * s.kw * s.words;
  py::array_t<word_t> out({py::ssize_t(rows), py::ssize_t(row_words)});
  if (rows == 0 || row_words == 0) return out;
  const auto* x = static_cast<const word_t*>(x_bits.data());
  word_t* o = out.mutable_data();
  py::gil_scoped_release release;
  driver::im2col_bits(target, x, s, std::size_t(x_bits.shape(0)), o);
  return out;
}

py::array_t<word_t> maxpool_bits(const py::array& x_bits, std::int64_t kh, std::int64_t kw, std::int64_t sh,
                                 std::int64_t sw, const py::object& flip, const std::string& isa_name) {
  const Target target = resolve_target(isa_name);
  check_nhwc_bits(x_bits, "x_bits");
  const ConvShape s = conv_shape(x_bits, kh, kw, sh, sw, 0, 0, "pool");
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
  const std::size_t n = std::size_t(x_bits.shape(0)), rows = n * s.oh * s.ow;
  py::array_t<word_t> out({py::ssize_t(n), py::ssize_t(s.oh), py::ssize_t(s.ow), py::ssize_t(s.words)});
  if (rows == 0 || s.words == 0) return out;
  const auto* x = static_cast<const word_t*>(x_bits.data());
  const word_t* f = flips.empty() ? nullptr : flips.data();
  word_t* o = out.mutable_data();
  py::gil_scoped_release release;
  driver::maxpool_bits(target, x, s, n, f, o);
  return out;
}

// sign of the thresholded binary conv, packed: x (n, h, w, ceil(C/64)) and
// filters (F, kh, kw, ceil(C/64)), +1 (zero-word) spatial padding.
py::array_t<word_t> binary_conv2d_threshold(const py::array& x_bits, const py::array& w_bits, std::int64_t channels,
                                            const py::array& thresholds, const py::object& flip, std::int64_t sh,
                                            std::int64_t sw, std::int64_t ph, std::int64_t pw,
                                            const std::string& isa_name) {
  const Target target = resolve_target(isa_name);
  check_nhwc_bits(x_bits, "x_bits");
  check_nhwc_bits(w_bits, "w_bits");
  const std::size_t c = checked_dim(channels, "channels", 1);
  check_channel_padding(x_bits, "x_bits", c);
  check_channel_padding(w_bits, "w_bits", c);
  const std::size_t f = std::size_t(w_bits.shape(0));
  const ConvShape s = conv_shape(x_bits, w_bits.shape(1), w_bits.shape(2), sh, sw, ph, pw, "kernel");
  const double k_d = double(s.kh) * double(s.kw) * double(c);
  if (k_d > double(INT32_MAX)) throw py::value_error("kh * kw * channels must be < 2**31 (int32 dot products)");
  const std::int64_t k = std::int64_t(k_d);
  per_output<std::int32_t>(thresholds, "thresholds", "int32", f, "filter");
  std::vector<word_t> flips = pack_flags(flip, "flip", f, "filter");
  if (flips.empty()) flips.assign(words_for(f) + 1, 0);  // None: no flipped channel
  const std::size_t n = std::size_t(x_bits.shape(0)), rows = n * s.oh * s.ow, out_words = words_for(f);
  py::array_t<word_t> out({py::ssize_t(n), py::ssize_t(s.oh), py::ssize_t(s.ow), py::ssize_t(out_words)});
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
py::array_t<word_t> first_conv_threshold(const py::array& x, const py::array& w_bits, std::int64_t kh,
                                         std::int64_t kw, const py::array& thresholds, const py::object& flip,
                                         std::int64_t sh, std::int64_t sw, std::int64_t ph, std::int64_t pw,
                                         const std::string& isa_name) {
  const Target target = resolve_target(isa_name);
  require_dtype<float>(x, "x", "float32");
  require_ndim(x, "x", 4);
  require_c_contiguous(x, "x");
  ConvShape s = conv_shape(x, kh, kw, sh, sw, ph, pw, "kernel");  // s.words: channels (floats per pixel)
  const std::size_t c = s.words, k = s.kh * s.kw * c;
  if (c == 0) throw py::value_error("x must have at least one channel");
  const std::size_t ldb = check_packed_rows(w_bits, "w_bits", std::int64_t(k));
  const std::size_t f = std::size_t(w_bits.shape(0));
  per_output<float>(thresholds, "thresholds", "float32", f, "filter");
  std::vector<word_t> flips = pack_flags(flip, "flip", f, "filter");
  if (flips.empty()) flips.assign(words_for(f) + 1, 0);
  const std::size_t n = std::size_t(x.shape(0)), rows = n * s.oh * s.ow, out_words = words_for(f);
  py::array_t<word_t> out({py::ssize_t(n), py::ssize_t(s.oh), py::ssize_t(s.ow), py::ssize_t(out_words)});
  if (rows == 0 || f == 0) return out;
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
