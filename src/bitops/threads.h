// The kernels' thread pool.
//
// Why not OpenMP: libgomp workers spin-wait after a parallel region, and on a
// 2-core machine they fight numpy's OpenBLAS threads for the cores, stalling
// both for milliseconds when a user alternates `x @ w` and pybitnet calls.
// These workers block on a condition variable (a futex) as soon as a job runs
// out of chunks, so an idle pool costs nothing, and the calling thread always
// takes part in the work (a worker that cannot get a core costs at most the
// chunk it holds). Drivers run small problems inline on the caller and never
// wake a worker for them. The other side of the trap, OpenBLAS's own idle
// spin, is shortened by pybitnet/__init__.py when it loads before numpy.
// Tried and dropped: yielding after the wake-up (no effect) and pinning
// workers off the caller's CPU (better median, 10 ms tails behind a spinner).
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <vector>

namespace pbn {

// The cores this process may run on (sched_getaffinity), overridden by
// PYBITNET_NUM_THREADS, then OMP_NUM_THREADS.
int default_num_threads();
int get_num_threads();
void set_num_threads(int n);  // 1 <= n <= kMaxThreads
// More threads than this is a typo, not a machine: set_num_threads refuses it and
// PYBITNET_NUM_THREADS / OMP_NUM_THREADS are clamped to it.
constexpr int kMaxThreads = 1024;

// Runs fn(i) for every i in [0, n), on up to get_num_threads() threads (the
// caller included), and returns when all are done. Safe to call from several
// threads at once: a call that finds the pool busy runs inline.
void parallel_for(std::size_t n, const std::function<void(std::size_t)>& fn);

// The cost model, the one place that decides threads. A driver estimates the
// single-thread time of its call (its units of work times its family's
// nanoseconds per unit, measured on the fastest ISA) and hands it, with the op
// it runs (`key`: an OpId), to split_2d / split_1d:
// - below kMinParallelNs the call runs inline on the caller: waking a worker
//   costs ~10 us, so a batch-1 layer never wakes one (a whole batch-1 forward may, once: run_phases);
// - above, whether two threads pay is measured, not assumed: per op and size
//   class (a factor of 2 in estimated time) the pool keeps the wall time per
//   estimated ns of the last calls it ran inline and of those it split, and
//   splits only while splitting measured faster (medians), trying the other way
//   every kExploreEvery-th call, then, while the tries confirm the choice, half
//   as often each time, down to every kExploreMax-th (a try that overturns it
//   starts over, and a try that ran faster than the chosen way's median is
//   repeated at the next call: after a burst of load from another process, whose
//   slow samples outvote the new ones, splitting comes back within a few calls,
//   not a few dozen): the chosen way's median is what the caller sees. Where
//   splitting measured at least kClearMargin faster, a try runs only every
//   kExploreClear-th call: a try of the inline way costs about half a call of
//   that size (every 16th 20 ms product of a CNN step: ~0.6 ms per call), and a
//   split that turns slow shows in its own samples without one (the choice then
//   turns, and the tries start again at every kExploreEvery-th call). On an idle machine splitting wins and stays; on one
//   whose cores are taken by other processes, a woken worker may get its core
//   milliseconds late, or lose it mid-chunk while the caller waits, and the
//   pool falls back to one thread: two threads are never slower than one for
//   long (the issue behind this: a 2-core machine shared with training runs).
// - a split call gets about kChunkNs of work per chunk, at least 2 and at most
//   8 chunks per thread: a worker that starts late still finds work, and the
//   caller drains what no worker has taken (it never waits for a chunk nobody
//   has started).
constexpr double kMinParallelNs = 150e3;
constexpr double kChunkNs = 400e3;
constexpr int kMaxSplitKeys = 64;    // keys (ops) the measurements are kept for
constexpr unsigned kExploreEvery = 4;
constexpr unsigned kExploreMax = 16;
constexpr unsigned kExploreClear = 256;
constexpr float kClearMargin = 1.25f;

// How a call is run: `chunks` (1: inline) and what to record its time under.
struct SplitPlan {
  std::size_t chunks = 1;
  std::size_t threads = 1;  // the pool's count when planned (chunks are a multiple of it)
  int key = -1, size_class = -1;  // -1: not measured (small calls)
  double work_ns = 0;
  bool choice = false, trial = false;  // what the measurements chose; a try of the other way
};
// `min_ns`: below it the call runs inline unmeasured (kMinParallelNs, or a composed job's own floor).
SplitPlan plan_split(int key, double work_ns, double min_ns = kMinParallelNs);
// Records the wall time of a call planned so, run split or inline.
void record_split(const SplitPlan& plan, bool split, double wall_ns);
double now_ns();

// What the cost model has measured so far, per key and size class that has been planned or sampled
// (calls made on one thread count as inline samples), for pybitnet.thread_plans(): observable, as the
// ISA dispatch is.
struct SplitReport {
  int key = 0, size_class = 0;
  double work_ns_low = 0;            // the class: estimated single-thread ns in [low, 2 * low)
  bool open_ended = false;           // the last class: [low, inf)
  unsigned calls = 0, explore_every = 0;
  unsigned split_samples = 0, inline_samples = 0;
  float split_median = 0, inline_median = 0;  // wall ns per estimated ns (0: no sample)
  bool measured = false;  // both ways have the samples the choice needs (before, the way short of them runs)
  bool splits = false, clearly = false;
};
std::vector<SplitReport> split_reports();
// Forgets every measurement (tests; a benchmark that wants a fresh start).
void reset_split_stats();

// How a 2-D output may be cut: chunk boundaries fall on multiples of these (the
// kernels' tile sizes, or what keeps results independent of the split), and
// `rows_first` says which dimension to cut when both could be (the one whose
// chunks repeat the least per-chunk setup).
struct Cut {
  std::size_t row_align = 1, col_align = 1;
  bool rows_first = false;
  // 0, or a cap on chunks per thread for kernels that redo setup per chunk
  // (the AVX-512 table kernel rebuilds x's subset-sum tables for each one).
  std::size_t max_chunks_per_thread = 0;
};

// Runs a job of dependent phases for `key` (an op or composed driver, as split_2d's): phase p is
// `chunks` calls body(p, c, chunks), and no chunk of phase p starts before every chunk of phase p - 1
// has finished. The cost model plans the job from its estimated single-thread time (plan_split(key,
// work_ns, min_ns)) and records its wall time, as split_2d does for one product. Split, phase p has
// chunks_per_thread[p] chunks per thread (0: one in all, a phase too small to share), and the caller
// and the workers (one wake-up for the whole job) take them as they come and spin between phases; a
// thread spins only for chunks another thread has started, so a worker that wakes late, or never,
// costs the caller nothing but the wake-up. Inline, each phase is one chunk, run in order. For a chain
// of small products (a batch-1 forward through several layers), each below kMinParallelNs, where one
// wake-up per layer cost more than it saved (~10 us here each, against 25-50 us of work per layer).
void run_phases(int key, double work_ns, double min_ns, const std::vector<std::size_t>& chunks_per_thread,
                const std::function<void(std::size_t phase, std::size_t chunk, std::size_t chunks)>& body);

// Runs body(r0, r1, c0, c1) over a split of [0, rows) x [0, cols) for the op
// `key`: along the preferred dimension when it has a tile per chunk, else along
// the other, else in as many chunks as the larger has tiles; inline when the
// plan says so.
template <class Body>
void split_2d(int key, std::size_t rows, std::size_t cols, double work_ns, Cut cut, const Body& body) {
  if (rows == 0 || cols == 0) return;
  const SplitPlan plan = plan_split(key, work_ns);
  const double t0 = plan.size_class >= 0 ? now_ns() : 0.0;
  std::size_t chunks = plan.chunks;
  if (chunks > 1 && cut.max_chunks_per_thread)
    chunks = std::min(chunks, plan.threads * cut.max_chunks_per_thread);
  const std::size_t row_tiles = (rows + cut.row_align - 1) / cut.row_align;
  const std::size_t col_tiles = (cols + cut.col_align - 1) / cut.col_align;
  const bool by_rows = cut.rows_first ? row_tiles >= chunks || row_tiles >= col_tiles
                                      : !(col_tiles >= chunks || col_tiles >= row_tiles);
  const std::size_t tiles = by_rows ? row_tiles : col_tiles;
  if (tiles < chunks)  // fewer tiles than planned: still a multiple of the threads where there are enough
    chunks = tiles >= plan.threads ? tiles / plan.threads * plan.threads : tiles;
  if (chunks <= 1) {
    body(std::size_t(0), rows, std::size_t(0), cols);
  } else {
    const std::size_t align = by_rows ? cut.row_align : cut.col_align, len = by_rows ? rows : cols;
    const std::size_t step = (tiles + chunks - 1) / chunks * align;
    parallel_for((len + step - 1) / step, [&](std::size_t t) {
      const std::size_t a = t * step, b = a + step < len ? a + step : len;
      if (by_rows)
        body(a, b, std::size_t(0), cols);
      else
        body(std::size_t(0), rows, a, b);
    });
  }
  if (plan.size_class >= 0) record_split(plan, chunks > 1, now_ns() - t0);
}

// Runs body(i0, i1) over a split of [0, n) at multiples of `align`.
template <class Body>
void split_1d(int key, std::size_t n, double work_ns, std::size_t align, const Body& body) {
  split_2d(key, n, std::size_t(1), work_ns, Cut{align, 1, true},
           [&](std::size_t i0, std::size_t i1, std::size_t, std::size_t) { body(i0, i1); });
}

}  // namespace pbn
