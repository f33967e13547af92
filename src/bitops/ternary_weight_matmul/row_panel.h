// The row panel shared by the SIMD ternary_weight_matmul variants: one panel
// of MR rows of x against all n weight rows, in kNR-row tiles and a compile-time
// tail. Included inside each ISA file's anonymous namespace after it defines
// kNR and `template <int MR, int NR> void tile(...)`.

template <int MR>
void row_panel(const float* x, std::size_t ldx, const word_t* s, std::size_t lds, const word_t* nz,
               std::size_t ldnz, float* y, std::size_t ldy, std::size_t n, std::size_t k) {
  std::size_t j = 0;
  for (; j + kNR <= n; j += kNR) tile<MR, kNR>(x, ldx, s + j * lds, lds, nz + j * ldnz, ldnz, y + j, ldy, k);
  s += j * lds;
  nz += j * ldnz;
  y += j;
  switch (n - j) {
    case 3: tile<MR, 3>(x, ldx, s, lds, nz, ldnz, y, ldy, k); break;
    case 2: tile<MR, 2>(x, ldx, s, lds, nz, ldnz, y, ldy, k); break;
    case 1: tile<MR, 1>(x, ldx, s, lds, nz, ldnz, y, ldy, k); break;
    default: break;
  }
}
