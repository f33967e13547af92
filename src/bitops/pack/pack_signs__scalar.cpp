// Reference: one element at a time, exactly the bit contract of bits.h.
#include "../kernels.h"

namespace pbn {
namespace {

template <class T>
bool pack_ref(const T* x, std::size_t k, std::size_t inner, word_t* out, std::size_t o0, std::size_t o1,
              std::size_t i0, std::size_t i1) {
  const std::size_t words = words_for(k);
  bool nan = false;
  for (std::size_t o = o0; o < o1; ++o) {
    for (std::size_t i = i0; i < i1; ++i) {
      for (std::size_t w = 0; w < words; ++w) {
        word_t bits = 0;
        for (std::size_t b = 0; b < kWordBits && w * kWordBits + b < k; ++b) {
          const T v = x[(o * k + w * kWordBits + b) * inner + i];
          if (v != v) nan = true;
          if (v < 0) bits |= word_t(1) << b;
        }
        out[(o * words + w) * inner + i] = bits;
      }
    }
  }
  return nan;
}

}  // namespace

bool pack_signs__scalar(const void* x, DType dtype, std::size_t, std::size_t k, std::size_t inner, word_t* out,
                        std::size_t o0, std::size_t o1, std::size_t i0, std::size_t i1) {
  switch (dtype) {
    case DType::f32: return pack_ref(static_cast<const float*>(x), k, inner, out, o0, o1, i0, i1);
    case DType::f64: return pack_ref(static_cast<const double*>(x), k, inner, out, o0, o1, i0, i1);
    case DType::i8: return pack_ref(static_cast<const std::int8_t*>(x), k, inner, out, o0, o1, i0, i1);
    case DType::i16: return pack_ref(static_cast<const std::int16_t*>(x), k, inner, out, o0, o1, i0, i1);
  }
  return false;
}

}  // namespace pbn
