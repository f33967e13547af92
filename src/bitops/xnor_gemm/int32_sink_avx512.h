// The int32 epilogue of xnor_gemm and xnor_gemm_masked on AVX-512 (included
// inside an __avx512 file's anonymous namespace): each tile row's dot
// products stored as int32.
struct Int32Sink {
  std::int32_t* c;
  std::size_t ldc;
  Int32Sink at(std::size_t i, std::size_t j) const { return {c + i * ldc + j, ldc}; }
  template <int NR>
  PBN_INLINE void put(int i, __m512i dot) const {
    _mm256_mask_storeu_epi32(c + i * ldc, __mmask8((1u << NR) - 1), _mm512_cvtepi64_epi32(dot));
  }
};
