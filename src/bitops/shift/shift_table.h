// The SIMD shift-add GEMM driver shared by the AVX2 and AVX-512 files (float
// and fixed point). Include it inside the ISA file's anonymous namespace,
// after the policy P (vector type, loads/adds, row building) is defined.
//
// Why a table: out[k, :] = sum_i s[i,k] 2^e[i,k] g[i, :] has one product per
// (i, k, n), but only few distinct codes per row i. So for a tile of kW
// columns of g and a chunk of rows, the driver first builds every
// T[code][i] = +-2^e * g[i, tile] once (exponent-field adds in float, shifts
// in fixed point: nslots * rows * kW ops), then each output row is a pure sum
// of table rows picked by its codes: one vector add (with its load) per 16 (or
// 8) products and no multiply, no per-element shift, no branch. Terms are
// added in order of i, as in the scalar reference, so the bits match it.
// P::kKB output rows (4 on AVX-512, 2 on AVX2) are summed at once, 16 or 8
// independent add chains, to hide the add latency. Rows are chunked so the table stays within kTableBytes (L2);
// partial sums of a chunk are parked in `out` (as P::Elem bits) between chunks.
#pragma once

// Needs <cstdlib> and <cstring>, included by the ISA file before its namespaces.

namespace tbl {

constexpr std::size_t kTableBytes = 1024 * 1024;

// Per-thread table storage, kept between calls: a fresh 1 MB allocation per
// call is an mmap whose page faults (serialized on the process's memory map)
// cost as much as the sums and stopped the kernel from scaling over threads.
struct TableBuffer {
  void* p = nullptr;
  std::size_t bytes = 0;
  ~TableBuffer() { std::free(p); }
  void* get(std::size_t n) {
    if (n > bytes) {
      std::free(p);
      p = std::aligned_alloc(64, (n + 63) / 64 * 64);  // C11: size a multiple of the alignment
      bytes = p ? n : 0;
    }
    return p;
  }
};
thread_local TableBuffer t_table;

template <class P, int KB>
PBN_INLINE void sum_rows(const std::int8_t* codes, std::size_t ldc, std::size_t rows, const typename P::Elem* table,
                         const std::size_t* off, typename P::Vec (&acc)[KB][P::kNV]) {
  using Elem = typename P::Elem;
  const Elem* trow = table;
  for (std::size_t i = 0; i < rows; ++i, codes += ldc, trow += P::kW) {
    const Elem* r[KB];
#pragma GCC unroll 4
    for (int b = 0; b < KB; ++b) r[b] = trow + off[std::uint8_t(codes[b])];
#pragma GCC unroll 4
    for (int v = 0; v < P::kNV; ++v)
#pragma GCC unroll 4
      for (int b = 0; b < KB; ++b) acc[b][v] = P::add(acc[b][v], P::load(r[b] + v * P::kLanes));
  }
}

// Partial sums of one output row tile, parked in `out` between row chunks
// (P::load_raw / P::store_raw mask the columns past `cols`).
template <class P, int KB>
PBN_INLINE void output_rows(const std::int8_t* codes, std::size_t ldc, std::size_t rows, const typename P::Elem* table,
                            const std::size_t* off, float* out, std::size_t ldo, std::size_t cols, bool first,
                            bool last, int frac_bits) {
  typename P::Vec acc[KB][P::kNV];
  if (first) {
#pragma GCC unroll 4
    for (int b = 0; b < KB; ++b)
#pragma GCC unroll 4
      for (int v = 0; v < P::kNV; ++v) acc[b][v] = P::zero();
  } else {
#pragma GCC unroll 4
    for (int b = 0; b < KB; ++b) P::load_raw(out + b * ldo, cols, acc[b]);
  }
  sum_rows<P, KB>(codes, ldc, rows, table, off, acc);
#pragma GCC unroll 4
  for (int b = 0; b < KB; ++b) {
    if (last)
      P::finish(out + b * ldo, acc[b], cols, frac_bits);
    else
      P::store_raw(out + b * ldo, cols, acc[b]);
  }
}

template <class P>
void table_matmul(const std::int8_t* codes, std::size_t ldc, const typename P::Elem* g, std::size_t ldg, float* out,
                  std::size_t ldo, std::size_t m, std::size_t k0, std::size_t k1, std::size_t n0, std::size_t n1,
                  int frac_bits) {
  using Elem = typename P::Elem;
  if (k0 >= k1 || n0 >= n1) return;
  // The codes present in these columns get table slots.
  bool present[256] = {};
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t k = k0; k < k1; ++k) present[std::uint8_t(codes[i * ldc + k])] = true;
  std::int8_t slot_code[256];
  std::size_t nslots = 0;
  for (int c = 0; c < 256; ++c)
    if (present[c]) slot_code[nslots++] = std::int8_t(std::uint8_t(c));
  const std::size_t row_bytes = sizeof(Elem) * P::kW;
  std::size_t chunk = kTableBytes / (nslots * row_bytes);
  chunk = chunk < 1 ? 1 : (chunk > m ? m : chunk);
  Elem* table = static_cast<Elem*>(t_table.get(nslots * chunk * row_bytes));
  if (!table) return;  // (out of memory for <= kTableBytes: the output stays uninitialized)
  std::size_t off[256] = {};
  for (std::size_t s = 0; s < nslots; ++s) off[std::uint8_t(slot_code[s])] = s * chunk * P::kW;

  for (std::size_t n = n0; n < n1; n += P::kW) {
    const std::size_t cols = n1 - n < std::size_t(P::kW) ? n1 - n : std::size_t(P::kW);
    for (std::size_t i0 = 0; i0 < m; i0 += chunk) {
      const std::size_t rows = m - i0 < chunk ? m - i0 : chunk;
      for (std::size_t s = 0; s < nslots; ++s)
        P::build_rows(table + s * chunk * P::kW, g + i0 * ldg + n, ldg, rows, cols, slot_code[s]);
      const bool first = i0 == 0, last = i0 + rows == m;
      const std::int8_t* c = codes + i0 * ldc;
      std::size_t k = k0;
      if (P::kKB == 4)
        for (; k + 4 <= k1; k += 4)
          output_rows<P, 4>(c + k, ldc, rows, table, off, out + k * ldo + n, ldo, cols, first, last, frac_bits);
      for (; k + 2 <= k1; k += 2)
        output_rows<P, 2>(c + k, ldc, rows, table, off, out + k * ldo + n, ldo, cols, first, last, frac_bits);
      if (k < k1) output_rows<P, 1>(c + k, ldc, rows, table, off, out + k * ldo + n, ldo, cols, first, last, frac_bits);
    }
  }
}

}  // namespace tbl
