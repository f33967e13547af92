// Binding of the exact uint8 x +-1 weight product (16-bit weight panels), and of
// the weight side it and the bit planes read (weight_matmul/pixel_panels.h).
#include <climits>

#include "bind_util.h"
#include "weight_matmul/driver.h"
#include "weight_matmul/pixel_panels.h"

namespace pbn {

namespace {

py::array_t<std::int32_t> uint8_weight_matmul(const py::array& x, const py::array& panels, const py::handle& n_obj,
                                              const std::string& isa_name) {
  const Target target = resolve_target(isa_name);
  require_dtype<std::uint8_t>(x, "x", "uint8");
  require_ndim(x, "x", 2);
  const std::size_t m = std::size_t(x.shape(0)), k = std::size_t(x.shape(1));
  if (k >= (std::size_t(1) << 23)) throw py::value_error("x must have fewer than 2**23 columns (int32 sums)");
  const std::size_t ldx = m == 0 || k == 0 ? k : row_stride(x, "x");
  require_dtype<std::uint16_t>(panels, "panels", "uint16 (from pixel_panels)");
  require_ndim(panels, "panels", 3);
  require_c_contiguous(panels, "panels");
  const std::size_t chunks = pixel_panel_chunks(k), blocks = std::size_t(panels.shape(0));
  if (std::size_t(panels.shape(1)) != chunks || panels.shape(2) != 32)
    throw py::value_error("panels must have shape (blocks, ceil(k / 16) = " + std::to_string(chunks) +
                          ", 32) for x with k=" + std::to_string(k) + " columns, got " + shape_str(panels));
  const std::int64_t n64 = checked_k(n_obj, "n", std::int64_t(blocks) * 32, "n must be <= 32 * panels.shape[0]");
  const std::size_t n = std::size_t(n64);
  if ((n + 31) / 32 != blocks)
    throw py::value_error("panels has " + std::to_string(blocks) + " blocks of 32 rows but n=" + std::to_string(n) +
                          " needs ceil(n / 32) = " + std::to_string((n + 31) / 32));
  py::array_t<std::int32_t> out = new_result<std::int32_t>({m, n}, "the result (rows of x x n)");
  if (m == 0 || n == 0) return out;
  const auto* xp = static_cast<const std::uint8_t*>(x.data());
  const auto* pp = static_cast<const std::uint16_t*>(panels.data());
  std::int32_t* y = out.mutable_data();
  py::gil_scoped_release release;
  driver::uint8_weight_matmul(target, xp, ldx, pp, chunks, y, n, m, n, k);
  return out;
}

// w_bits (n rows of k bits, zero padding, C-contiguous) checked; n.
std::size_t weight_rows_of(const py::array& w_bits, const py::handle& k_obj, std::int64_t& k) {
  k = checked_k(k_obj, "k", INT32_MAX, "the row sums are int32 (k <= 2**31 - 1)");
  return contiguous_packed_rows(w_bits, "w_bits", k);
}

py::array_t<std::uint16_t> bind_pixel_panels(const py::array& w_bits, const py::handle& k_obj) {
  std::int64_t k;
  const std::size_t n = weight_rows_of(w_bits, k_obj, k), chunks = pixel_panel_chunks(std::size_t(k));
  py::array_t<std::uint16_t> out = new_result<std::uint16_t>({(n + 31) / 32, chunks, 32}, "the panels");
  std::uint16_t* p = out.mutable_data();
  const auto* w = static_cast<const word_t*>(w_bits.data());
  py::gil_scoped_release release;
  pbn::pixel_panels(w, n, std::size_t(k), p);
  return out;
}

py::array_t<std::int32_t> bind_weight_row_sums(const py::array& w_bits, const py::handle& k_obj) {
  std::int64_t k;
  const std::size_t n = weight_rows_of(w_bits, k_obj, k);
  py::array_t<std::int32_t> out = new_result<std::int32_t>({n}, "the row sums");
  std::int32_t* p = out.mutable_data();
  const auto* w = static_cast<const word_t*>(w_bits.data());
  py::gil_scoped_release release;
  pbn::weight_row_sums(w, n, std::size_t(k), p);
  return out;
}

}  // namespace

void bind_uint8_weight_matmul(py::module_& m) {
  m.def("uint8_weight_matmul", &uint8_weight_matmul, py::arg("x"), py::arg("panels"), py::arg("n"),
        py::arg("isa") = "",
        "Exact int32 x @ W.T for uint8 x and +-1 weights in 16-bit panels "
        "(see pybitnet.inference.first_layer.pixel_matmul).");
  m.def("pixel_panels", &bind_pixel_panels, py::arg("w_bits"), py::arg("k"),
        "uint8_weight_matmul's 16-bit panels (ceil(n/32), ceil(k/16), 32) of packed +-1 rows "
        "(see pybitnet.first_layer.pixel_panels).");
  m.def("weight_row_sums", &bind_weight_row_sums, py::arg("w_bits"), py::arg("k"),
        "int32 sums of packed +-1 rows: k - 2 * (number of -1 entries).");
}

}  // namespace pbn
