// A numpy allocation handler (NEP 49) that keeps freed large blocks for reuse,
// and the bindings pybitnet.runtime.reuse_memory() is built on.
//
// Why: a training step allocates the same large temporaries (tens of MB)
// every step. glibc returns freed blocks of that size to the OS (munmap, or a
// trim of the heap top), so each step faults every page in again, and numpy's
// huge-page advice makes each fault zero 2 MiB, at times after a compaction:
// measured 10-20 ms of a 200 ms CIFAR-10 step on 2 threads, in whichever
// layer happened to allocate after a trim. Arrays allocated while the handler
// is set (a context variable: numpy's PyDataMem_SetHandler) come from here;
// a freed block of >= kMinBytes waits, up to kMaxCachedBytes in all, for the
// next request of the same size. The handler travels with each array, so a
// block allocated here returns here whenever it is freed.
//
// numpy's C API is reached through its _ARRAY_API capsule (what import_array
// does), so the build needs no numpy headers: the handler struct (version 1)
// and the SetHandler slot (304, numpy >= 1.22; slots are never reused) are
// numpy's stable ABI.
#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

#include "bind_util.h"

namespace pbn {

namespace {

struct DataMemAllocator {  // numpy's PyDataMemAllocator
  void* ctx;
  void* (*malloc)(void* ctx, std::size_t size);
  void* (*calloc)(void* ctx, std::size_t nelem, std::size_t elsize);
  void* (*realloc)(void* ctx, void* ptr, std::size_t new_size);
  void (*free)(void* ctx, void* ptr, std::size_t size);
};
struct DataMemHandler {  // numpy's PyDataMem_Handler
  char name[127];
  std::uint8_t version;
  DataMemAllocator allocator;
};
constexpr int kSetHandlerSlot = 304;  // PyDataMem_SetHandler in numpy's API table

constexpr std::size_t kMinBytes = std::size_t(1) << 20;          // smaller blocks: malloc's own bins
constexpr std::size_t kMaxCachedBytes = std::size_t(1) << 30;    // kept in all, at most
constexpr std::size_t kHugePageBytes = std::size_t(2) << 20;
constexpr std::size_t kHugeAdviceBytes = std::size_t(4) << 20;  // as numpy's default handler

struct Cache {
  std::mutex mutex;
  std::multimap<std::size_t, void*> free_blocks;  // by size in bytes
  std::size_t cached = 0;
  unsigned long long hits = 0, misses = 0;
};
Cache& cache() {
  static Cache* c = new Cache;  // never destroyed: arrays may be freed during interpreter shutdown
  return *c;
}

// The block of `size` bytes freed last, or null.
void* take(std::size_t size) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  auto it = c.free_blocks.find(size);
  if (it == c.free_blocks.end()) {
    ++c.misses;
    return nullptr;
  }
  void* p = it->second;
  c.free_blocks.erase(it);
  c.cached -= size;
  ++c.hits;
  return p;
}

void advise_huge_pages(void* p, std::size_t size) {
#ifdef MADV_HUGEPAGE
  if (size < kHugeAdviceBytes) return;
  const auto begin = (reinterpret_cast<std::uintptr_t>(p) + kHugePageBytes - 1) & ~(kHugePageBytes - 1);
  const auto end = (reinterpret_cast<std::uintptr_t>(p) + size) & ~(kHugePageBytes - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);  // advice: errors ignored
#else
  (void)p, (void)size;
#endif
}

void* cache_malloc(void*, std::size_t size) {
  if (size >= kMinBytes)
    if (void* p = take(size)) return p;
  void* p = std::malloc(size ? size : 1);
  if (p) advise_huge_pages(p, size);
  return p;
}

void* cache_calloc(void*, std::size_t nelem, std::size_t elsize) {
  std::size_t size;
  if (__builtin_mul_overflow(nelem, elsize, &size)) return nullptr;
  if (size >= kMinBytes)
    if (void* p = take(size)) return std::memset(p, 0, size);
  void* p = std::calloc(nelem ? nelem : 1, elsize ? elsize : 1);
  if (p) advise_huge_pages(p, size);
  return p;
}

void* cache_realloc(void*, void* ptr, std::size_t new_size) { return std::realloc(ptr, new_size ? new_size : 1); }

void cache_free(void*, void* ptr, std::size_t size) {
  if (!ptr) return;
  if (size >= kMinBytes) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    if (c.cached + size <= kMaxCachedBytes) {
      c.free_blocks.emplace(size, ptr);
      c.cached += size;
      return;
    }
  }
  std::free(ptr);
}

DataMemHandler g_handler = {"pybitnet_array_cache", 1, {nullptr, cache_malloc, cache_calloc, cache_realloc, cache_free}};

// numpy's PyDataMem_SetHandler, from its API capsule.
using SetHandlerFn = PyObject* (*)(PyObject*);
SetHandlerFn set_handler_fn() {
  static SetHandlerFn fn = [] {
    py::module_ umath;
    try {
      umath = py::module_::import("numpy._core._multiarray_umath");
    } catch (const py::error_already_set&) {
      umath = py::module_::import("numpy.core._multiarray_umath");  // numpy 1.x
    }
    py::object capsule = umath.attr("_ARRAY_API");
    void** api = static_cast<void**>(PyCapsule_GetPointer(capsule.ptr(), nullptr));
    if (!api) throw py::error_already_set();
    return reinterpret_cast<SetHandlerFn>(api[kSetHandlerSlot]);
  }();
  return fn;
}

// The handler capsule (one for the process: the arrays keep references to it).
py::object handler_capsule() {
  static py::object* capsule = new py::object(py::reinterpret_steal<py::object>(
      PyCapsule_New(&g_handler, "mem_handler", nullptr)));
  return *capsule;
}

// Sets `handler` (a numpy mem_handler capsule, or None for ours) for this context; returns the one it replaces.
py::object set_array_handler(const py::object& handler) {
  py::object h = handler.is_none() ? handler_capsule() : handler;
  if (!PyCapsule_IsValid(h.ptr(), "mem_handler")) throw py::type_error("handler must be a numpy mem_handler capsule");
  PyObject* old = set_handler_fn()(h.ptr());
  if (!old) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(old);
}

// Frees the cached blocks; returns how many bytes that gave back.
std::size_t release_cached_arrays() {
  Cache& c = cache();
  std::multimap<std::size_t, void*> blocks;
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    blocks.swap(c.free_blocks);
    c.cached = 0;
  }
  std::size_t bytes = 0;
  for (const auto& [size, p] : blocks) bytes += size, std::free(p);
  return bytes;
}

py::dict array_cache_stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  py::dict d;
  d["cached_bytes"] = c.cached;
  d["cached_blocks"] = c.free_blocks.size();
  d["hits"] = c.hits;
  d["misses"] = c.misses;
  d["min_bytes"] = kMinBytes;
  d["max_cached_bytes"] = kMaxCachedBytes;
  return d;
}

}  // namespace

void bind_array_cache(py::module_& m) {
  m.def("set_array_handler", &set_array_handler, py::arg("handler") = py::none(),
        R"pbdoc(Set numpy's allocation handler for this context: None -> pybitnet's block cache; returns the
previous handler (see pybitnet.runtime.reuse_memory).)pbdoc");
  m.def("release_cached_arrays", &release_cached_arrays,
        R"pbdoc(Free the blocks the cache keeps; returns the bytes given back.)pbdoc");
  m.def("array_cache_stats", &array_cache_stats, R"pbdoc(The block cache's counters.)pbdoc");
}

}  // namespace pbn
