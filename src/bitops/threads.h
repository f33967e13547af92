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

#include <cstddef>
#include <functional>

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

// Chunks to split `units` of work into so that each is worth waking a thread
// for: 1 (run inline) below `min_units_per_thread * 2`, otherwise a few per thread.
std::size_t plan_chunks(double units, double min_units_per_thread);

}  // namespace pbn
