#include "driver.h"

#include "../scratch.h"
#include "../threads.h"
#include "repanel.h"

namespace pbn {
namespace driver {

namespace {

// Output columns per chunk: whole tiles of the widest micro-kernel (AVX-512: 8).
constexpr std::size_t kColumnAlign = 8;

// Each chunk reads all of the operand it is not cut along: cut along the larger one (a's rows, with
// the mask's, against b's), so the smaller is what the chunks re-read. A conv layer's forward
// (51200 patch rows x 128 filters) cut by columns streamed its 15 MB of patches and mask once per
// chunk and ran no faster on 2 threads than on 1 (7.6 ms); cut by rows: 4.0 ms.
Cut gemm_cut(std::size_t m, std::size_t n, std::size_t a_arrays) {
  return Cut{1, kColumnAlign, m * a_arrays > n};
}
// Measured: 256 x 4096 x 4096 (67M word pairs) takes ~2.0 ms on one Zen 5 core
// with AVX-512; AVX2 is ~7x slower (the model then underestimates).
constexpr double kNsPerWordPair = 0.03;

// The epilogue of the chunk [i0, i1) x [j0, j1) of c, or nothing.
struct ChunkEpilogue {
  int32_affine_fn* kernel;
  const Affine* affine;
  void operator()(std::int32_t* c, std::size_t ldc, std::size_t i0, std::size_t i1, std::size_t j0,
                  std::size_t j1) const {
    if (affine)
      kernel(c + i0 * ldc + j0, ldc, i1 - i0, j1 - j0, affine->scale, affine->bias ? affine->bias + j0 : nullptr);
  }
};

ChunkEpilogue epilogue_of(const Target& t, std::size_t m, std::size_t n, const Affine* affine) {
  return {affine ? pbn::kernel<OpId::int32_affine>(t, {m, n, 0}) : nullptr, affine};
}

// bitplane_matmul's blocks: the planes' dot products of a block (8 x pixel rows x columns, int32)
// fill at most kPlaneBlockBytes of a per-thread buffer, so the combine reads them from L2; up to
// kPlaneRows pixel rows per block (then the 8 planes' rows are one run of a's rows when a block
// holds them all: one kernel call, not 8).
constexpr std::size_t kPlaneBlockBytes = 256 << 10;
constexpr std::size_t kPlaneRows = 128;
thread_local ThreadBuffer t_planes;

// bitplane_bytes: one 32-pixel vector against one weight row (vpsadbw + vpaddq; the weights' spread
// to bytes amortized over the pixel rows): 100 x 784 -> 4096 took 1.8-1.9 ms on one Zen 5 core.
constexpr double kNsPerPixelVector = 0.18;

// Pixel byte x[i * k + c] from the planes of pack_bit_planes (plane p of row i at row p * m + i; bit
// set where bit p of the pixel is clear): per 8 pixels, the 8 planes' bytes form an 8 x 8 bit
// matrix (byte p = plane p), transposed so that byte c holds pixel c's bits.
void unpack_bit_planes(const word_t* a, std::size_t lda, std::size_t m, std::size_t k, std::uint8_t* x) {
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t c0 = 0; c0 < k; c0 += 8) {
      std::uint64_t t = 0;
      for (std::size_t p = 0; p < 8; ++p)
        t |= std::uint64_t(std::uint8_t(~(a[(p * m + i) * lda + c0 / 64] >> (c0 % 64)))) << (8 * p);
      std::uint64_t s = (t ^ (t >> 7)) & 0x00AA00AA00AA00AAull;  // transpose 8 x 8 bits (Hacker's Delight 7-3)
      t ^= s ^ (s << 7);
      s = (t ^ (t >> 14)) & 0x0000CCCC0000CCCCull;
      t ^= s ^ (s << 14);
      s = (t ^ (t >> 28)) & 0x00000000F0F0F0F0ull;
      t ^= s ^ (s << 28);
      for (std::size_t c = c0; c < k && c < c0 + 8; ++c) x[i * k + c] = std::uint8_t(t >> (8 * (c - c0)));
    }
}

}  // namespace

double xnor_gemm_ns(std::size_t m, std::size_t n, std::size_t words) {
  return double(m) * double(n) * double(words) * kNsPerWordPair;
}

void xnor_gemm(const Target& t, const word_t* a, std::size_t lda, const word_t* b, std::size_t ldb, std::int32_t* c,
               std::size_t ldc, std::size_t m, std::size_t n, std::int64_t k, const Affine* epilogue) {
  const std::size_t words = words_for(std::size_t(k));
  xnor_gemm_fn* kernel = pbn::kernel<OpId::xnor_gemm>(t, {m, n, std::size_t(k)});
  const ChunkEpilogue finish = epilogue_of(t, m, n, epilogue);
  split_2d(int(OpId::xnor_gemm), m, n, xnor_gemm_ns(m, n, words), gemm_cut(m, n, 1),
           [&](std::size_t i0, std::size_t i1, std::size_t j0, std::size_t j1) {
             kernel(a + i0 * lda, lda, b + j0 * ldb, ldb, c + i0 * ldc + j0, ldc, i1 - i0, j1 - j0, words, k);
             finish(c, ldc, i0, i1, j0, j1);
           });
}

void xnor_gemm_masked(const Target& t, const word_t* a, std::size_t lda, const word_t* mask, std::size_t ldm,
                      const word_t* b, std::size_t ldb, std::int32_t* c, std::size_t ldc, std::size_t m, std::size_t n,
                      std::int64_t k, const Affine* epilogue) {
  const std::size_t words = words_for(std::size_t(k));
  xnor_gemm_masked_fn* kernel = pbn::kernel<OpId::xnor_gemm_masked>(t, {m, n, std::size_t(k)});
  const ChunkEpilogue finish = epilogue_of(t, m, n, epilogue);
  split_2d(int(OpId::xnor_gemm_masked), m, n, xnor_gemm_ns(m, n, words), gemm_cut(m, n, 2),
           [&](std::size_t i0, std::size_t i1, std::size_t j0, std::size_t j1) {
             kernel(a + i0 * lda, lda, mask + i0 * ldm, ldm, b + j0 * ldb, ldb, c + i0 * ldc + j0, ldc, i1 - i0,
                    j1 - j0, words);
             finish(c, ldc, i0, i1, j0, j1);
           });
}

void xnor_gemm_threshold(const Target& t, const word_t* a, std::size_t lda, const word_t* b, std::size_t ldb,
                         word_t* c, std::size_t ldc, std::size_t m, std::size_t n, std::int64_t k,
                         const std::int32_t* thresholds, const word_t* flips) {
  const std::size_t words = words_for(std::size_t(k));
  xnor_gemm_threshold_fn* kernel = pbn::kernel<OpId::xnor_gemm_threshold>(t, {m, n, std::size_t(k)});
  // Column chunks at whole output words.
  split_2d(int(OpId::xnor_gemm_threshold), m, n, xnor_gemm_ns(m, n, words), Cut{1, kWordBits},
           [&](std::size_t i0, std::size_t i1, std::size_t j0, std::size_t j1) {
             kernel(a + i0 * lda, lda, b + j0 * ldb, ldb, c + i0 * ldc + j0 / kWordBits, ldc, i1 - i0, j1 - j0, words,
                    k, thresholds + j0, flips + j0 / kWordBits);
           });
}

std::string bitplane_matmul_plan(Isa isa) {
  const Target t{isa, -1};
  if (bitplane_by_bytes(t)) return peek(OpId::bitplane_bytes, t, {100, 4096, 784}).name;
  return std::string(peek(OpId::xnor_gemm, t, {800, 4096, 784}).name) + " + " +
         peek(OpId::bitplane_combine, t, {100, 4096, 784}).name;
}

double bitplane_bytes_ns(std::size_t m, std::size_t n, std::size_t k) {
  return double(m) * double(n) * double((k + 31) / 32) * kNsPerPixelVector;
}

bool bitplane_by_bytes(const Target& t) {
  if (t.forced >= 0) return variants()[t.forced].op == OpId::bitplane_bytes;
  return t.isa != Isa::scalar && own_variant(OpId::bitplane_bytes, t.isa);  // scalar's row: the reference
}

void bitplane_bytes(const Target& t, const std::uint8_t* x, std::size_t ldx, const word_t* b, std::size_t ldb,
                    const std::int32_t* w_sums, std::int32_t* out, std::size_t ldo, std::size_t m, std::size_t n,
                    std::int64_t k) {
  bitplane_bytes_fn* kernel = pbn::kernel<OpId::bitplane_bytes>(t, {m, n, std::size_t(k)});
  split_2d(int(OpId::bitplane_bytes), m, n, bitplane_bytes_ns(m, n, std::size_t(k)), gemm_cut(m, n, 1),
           [&](std::size_t i0, std::size_t i1, std::size_t j0, std::size_t j1) {
             kernel(x + i0 * ldx, ldx, b + j0 * ldb, ldb, w_sums + j0, out + i0 * ldo + j0, ldo, i1 - i0, j1 - j0,
                    std::size_t(k));
           });
}

void bitplane_matmul(const Target& t, const word_t* a, std::size_t lda, const word_t* b, std::size_t ldb,
                     const std::int32_t* w_sums, std::int32_t* out, std::size_t ldo, std::size_t m, std::size_t n,
                     std::int64_t k) {
  const std::size_t words = words_for(std::size_t(k));
  if (bitplane_by_bytes(t)) {  // the planes back into their pixels' bytes (a fraction of the product's time)
    std::vector<std::uint8_t> x(m * std::size_t(k));
    unpack_bit_planes(a, lda, m, std::size_t(k), x.data());
    return bitplane_bytes(t, x.data(), std::size_t(k), b, ldb, w_sums, out, ldo, m, n, k);
  }
  bitplane_combine_fn* combine = pbn::kernel<OpId::bitplane_combine>(t, {m, n, std::size_t(k)});
  split_2d(int(OpId::bitplane_combine), m, n, xnor_gemm_ns(8 * m, n, words), gemm_cut(8 * m, n, 1),
           [&](std::size_t i0, std::size_t i1, std::size_t j0, std::size_t j1) {
             std::size_t rows = std::min(i1 - i0, kPlaneRows);
             std::size_t cols = std::max(kColumnAlign, kPlaneBlockBytes / (8 * 4 * rows) / kColumnAlign * kColumnAlign);
             auto* c = static_cast<std::int32_t*>(t_planes.get(8 * rows * cols * sizeof(std::int32_t)));
             std::int32_t small[8 * 8 * kColumnAlign];
             if (!c) rows = std::min<std::size_t>(rows, 8), cols = kColumnAlign, c = small;  // no memory: tiny blocks
             for (std::size_t jb = j0; jb < j1; jb += cols) {
               const std::size_t nc = std::min(cols, j1 - jb);
               for (std::size_t ib = i0; ib < i1; ib += rows) {  // columns outer: b's block stays in cache
                 const std::size_t nr = std::min(rows, i1 - ib);
                 if (nr == m) {  // every pixel row: planes p * m + i are a's rows 0 .. 8m
                   pbn::kernel<OpId::xnor_gemm>(t, {8 * m, nc, std::size_t(k)})(a, lda, b + jb * ldb, ldb, c, nc,
                                                                                 8 * m, nc, words, k);
                 } else {
                   xnor_gemm_fn* xnor = pbn::kernel<OpId::xnor_gemm>(t, {nr, nc, std::size_t(k)});
                   for (std::size_t p = 0; p < 8; ++p)
                     xnor(a + (p * m + ib) * lda, lda, b + jb * ldb, ldb, c + p * nr * nc, nc, nr, nc, words, k);
                 }
                 combine(c, nc, nr * nc, w_sums + jb, out + ib * ldo + jb, ldo, nr, nc);
               }
             }
           });
}

std::vector<word_t> to_panels(const word_t* b, std::size_t ldb, std::size_t n, std::size_t words) {
  std::vector<word_t> bp((n + 7) / 8 * words * 8);
  fill_panels(b, ldb, n, words, bp.data(), copy_block8);
  return bp;
}

void xnor_gemm_threshold_panels(const Target& t, const word_t* a, std::size_t lda, const word_t* b, std::size_t ldb,
                                word_t* c, std::size_t ldc, std::size_t m, std::size_t n, std::int64_t k,
                                const std::int32_t* thresholds, const word_t* flips) {
  const std::size_t words = words_for(std::size_t(k));
  const std::vector<word_t> bp = to_panels(b, ldb, n, words);
  xnor_gemm_threshold_panels_fn* kernel = pbn::kernel<OpId::xnor_gemm_threshold_panels>(t, {m, n, std::size_t(k)});
  split_2d(int(OpId::xnor_gemm_threshold_panels), m, n, xnor_gemm_ns(m, n, words), Cut{1, kWordBits},
           [&](std::size_t i0, std::size_t i1, std::size_t j0, std::size_t j1) {
             kernel(a + i0 * lda, lda, bp.data() + j0 * words, c + i0 * ldc + j0 / kWordBits, ldc, i1 - i0, j1 - j0,
                    words, k, thresholds + j0, flips + j0 / kWordBits);
           });
}

}  // namespace driver
}  // namespace pbn
