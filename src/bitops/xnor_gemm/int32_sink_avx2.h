// The int32 epilogue of xnor_gemm and xnor_gemm_masked on AVX2 (included
// inside an __avx2 file's anonymous namespace).
struct Int32Sink {
  std::int32_t* c;
  std::size_t ldc;
  Int32Sink at(std::size_t i, std::size_t j) const { return {c + i * ldc + j, ldc}; }
  PBN_INLINE void put(int i, int j, std::int64_t dot) const { c[i * ldc + j] = std::int32_t(dot); }
};
