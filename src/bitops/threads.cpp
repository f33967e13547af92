#include "threads.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "registry.h"

namespace pbn {

// < : every op and composed driver (registry.h) needs its own key, and the last key is left free for the tests
// (_bitops._simulate_thread_plan).
static_assert(kNumSplitKeys < kMaxSplitKeys, "every op and composed driver needs its own key, one left free");

namespace {

int env_threads(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return 0;
  const long n = std::strtol(v, nullptr, 10);  // "4,2" (nested OpenMP syntax) -> 4
  return n > 0 ? int(std::min<long>(n, kMaxThreads)) : 0;
}

// Waits for ready() by spinning, at most `max_spins` pauses (0: no limit), and returns it: for what
// another running thread finishes within microseconds (a futex sleep and wake-up costs ~10 us on
// these VMs). Yields now and then, in case that thread shares this core.
template <class Ready>
bool spin_until(const Ready& ready, unsigned max_spins = 0) {
  for (unsigned i = 1; !ready(); ++i) {
    if (i == max_spins) return ready();
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
    if (i % 4096 == 0) std::this_thread::yield();
  }
  return true;
}
// How long the caller of a split job spins for the workers to finish their last chunks before it
// sleeps (they end within microseconds of each other; a sleep adds a wake-up): ~18 us of pauses
// at 35 ns each (Zen 5).
constexpr unsigned kDoneSpins = 512;

class Pool {
 public:
  explicit Pool(int n) : num_threads_(n) {}

  int num_threads() const { return num_threads_.load(std::memory_order_relaxed); }

  // Workers already started stay (idle) when n goes down, so switching the
  // count back and forth costs no thread starts; those past n - 1 sit jobs out.
  void set_num_threads(int n) {
    std::lock_guard<std::mutex> run(run_mutex_);
    std::lock_guard<std::mutex> lk(m_);
    num_threads_ = n;
  }

  void run(std::size_t n, const std::function<void(std::size_t)>& fn) {
    std::unique_lock<std::mutex> run(run_mutex_, std::try_to_lock);
    if (n <= 1 || num_threads() <= 1 || !run.owns_lock()) {
      for (std::size_t i = 0; i < n; ++i) fn(i);
      return;
    }
    start_workers();
    {
      std::lock_guard<std::mutex> lk(m_);
      fn_ = &fn;
      n_ = n;
      next_.store(0, std::memory_order_relaxed);
      open_ = true;
      ++generation_;
    }
    work_cv_.notify_all();
    drain(fn, n);
    spin_until([&] { return in_job_.load(std::memory_order_acquire) == 0; }, kDoneSpins);
    std::unique_lock<std::mutex> lk(m_);
    done_cv_.wait(lk, [&] { return in_job_.load(std::memory_order_relaxed) == 0; });
    open_ = false;  // workers that wake up late skip this job
  }

  // After fork() only the calling thread exists in the child: abandon this
  // pool (its mutexes may be held by threads that are gone) without joining.
  void abandon() { workers_.clear(); }

 private:
  void drain(const std::function<void(std::size_t)>& fn, std::size_t n) {
    for (std::size_t i; (i = next_.fetch_add(1, std::memory_order_relaxed)) < n;) fn(i);
  }

  void worker(int index) {
    std::uint64_t seen = 0;
    std::unique_lock<std::mutex> lk(m_);
    for (;;) {
      work_cv_.wait(lk, [&] { return generation_ != seen; });
      seen = generation_;
      if (!open_ || index >= num_threads() - 1) continue;
      ++in_job_;
      const auto* fn = fn_;
      const std::size_t n = n_;
      lk.unlock();
      drain(*fn, n);
      lk.lock();
      if (in_job_.fetch_sub(1, std::memory_order_release) == 1) done_cv_.notify_one();
    }
  }

  void start_workers() {
    while (int(workers_.size()) < num_threads() - 1) {
      const int index = int(workers_.size());
      workers_.push_back(new std::thread([this, index] { worker(index); }));
    }
  }

  std::atomic<int> num_threads_;
  std::mutex run_mutex_;  // one job at a time
  std::mutex m_;
  std::condition_variable work_cv_, done_cv_;
  std::vector<std::thread*> workers_;
  const std::function<void(std::size_t)>* fn_ = nullptr;
  std::size_t n_ = 0;
  std::atomic<std::size_t> next_{0};
  std::uint64_t generation_ = 0;
  std::atomic<int> in_job_{0};  // changed under m_; read without it by the caller's spin
  bool open_ = false;
};

Pool* g_pool = nullptr;

void after_fork_in_child() {
  if (g_pool) {
    const int n = g_pool->num_threads();
    g_pool->abandon();
    g_pool = new Pool(n);  // the old one is leaked on purpose
  }
}

Pool& pool() {
  static std::once_flag once;
  std::call_once(once, [] {
    g_pool = new Pool(default_num_threads());
    pthread_atfork(nullptr, nullptr, after_fork_in_child);
  });
  return *g_pool;
}

}  // namespace

namespace {

constexpr int kSizeClasses = 24;  // factors of 2 above kMinParallelNs
constexpr unsigned kSamples = 6;     // recent calls kept per way of running
constexpr unsigned kMinSamples = 3;  // per way, before the medians decide

// Wall ns per estimated ns of the recent calls of one op and size class run
// one way (inline or split); compared by their medians, which a call slowed by
// another process taking the core now and then does not move.
struct Samples {
  std::atomic<float> v[kSamples] = {};
  std::atomic<unsigned> n{0};
  unsigned count() const { return std::min(n.load(std::memory_order_relaxed), kSamples); }
  void add(float x) { v[n.fetch_add(1, std::memory_order_relaxed) % kSamples].store(x, std::memory_order_relaxed); }
  float median() const {  // 0 when empty (a reset may race a caller that saw samples)
    float s[kSamples];
    const unsigned c = count();
    if (c == 0) return 0.0f;
    for (unsigned i = 0; i < c; ++i) s[i] = v[i].load(std::memory_order_relaxed);
    std::sort(s, s + c);
    return c % 2 ? s[c / 2] : 0.5f * (s[c / 2 - 1] + s[c / 2]);
  }
};

struct SplitStats {
  Samples inline_runs, split_runs;
  std::atomic<unsigned> calls{0};
  std::atomic<unsigned> explore_every{kExploreEvery};  // doubles (to kExploreMax, or kExploreClear) while tries confirm the choice
  std::atomic<bool> warm{false};  // the first split call (workers starting) is not a sample

  // Both ways have the samples the medians need.
  bool measured() const { return split_runs.count() >= kMinSamples && inline_runs.count() >= kMinSamples; }
  // Split, by what the medians say (or to measure a way not measured enough yet).
  bool split_pays() const {
    if (split_runs.count() < kMinSamples) return true;
    if (inline_runs.count() < kMinSamples) return false;
    return split_runs.median() <= inline_runs.median();
  }
  // Splitting measured at least kClearMargin times faster: a try of the inline way then costs a call's
  // worth of the second core and is needed only to refresh stale inline samples (a split that turns
  // slow shows in its own samples), so it comes every kExploreClear-th call.
  bool split_clearly_pays() const {
    return measured() && split_runs.median() * kClearMargin <= inline_runs.median();
  }
};
SplitStats g_split[kMaxSplitKeys][kSizeClasses];

int size_class(double work_ns) {
  int c = 0;
  for (double w = work_ns; w >= 2 * kMinParallelNs && c + 1 < kSizeClasses; w /= 2) ++c;
  return c;
}

}  // namespace

int default_num_threads() {
  if (int n = env_threads("PYBITNET_NUM_THREADS")) return n;
  if (int n = env_threads("OMP_NUM_THREADS")) return n;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

int get_num_threads() { return pool().num_threads(); }

void set_num_threads(int n) {
  n = std::max(1, n);
  if (n != pool().num_threads()) pool().set_num_threads(n);
}

void parallel_for(std::size_t n, const std::function<void(std::size_t)>& fn) { pool().run(n, fn); }

void run_phases(int key, double work_ns, double min_ns, const std::vector<std::size_t>& chunks_per_thread,
                const std::function<void(std::size_t, std::size_t, std::size_t)>& body) {
  const std::size_t phases = chunks_per_thread.size();
  const SplitPlan plan = plan_split(key, work_ns, min_ns);
  const double t0 = plan.size_class >= 0 ? now_ns() : 0.0;
  const bool split = plan.chunks > 1;
  if (!split) {
    for (std::size_t p = 0; p < phases; ++p) body(p, 0, 1);
  } else {
    std::vector<std::size_t> chunks(phases);
    std::unique_ptr<std::atomic<std::size_t>[]> next(new std::atomic<std::size_t>[phases]),
        done(new std::atomic<std::size_t>[phases]);
    for (std::size_t p = 0; p < phases; ++p) {
      chunks[p] = chunks_per_thread[p] ? chunks_per_thread[p] * plan.threads : 1;
      next[p].store(0);
      done[p].store(0);
    }
    parallel_for(plan.threads, [&](std::size_t) {
      for (std::size_t p = 0; p < phases; ++p) {
        if (p > 0) spin_until([&] { return done[p - 1].load(std::memory_order_acquire) >= chunks[p - 1]; });
        for (std::size_t c; (c = next[p].fetch_add(1, std::memory_order_relaxed)) < chunks[p];) {
          body(p, c, chunks[p]);
          done[p].fetch_add(1, std::memory_order_release);
        }
      }
    });
  }
  if (plan.size_class >= 0) record_split(plan, split, now_ns() - t0);
}

double now_ns() {
  return double(std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::steady_clock::now().time_since_epoch())
                    .count());
}

SplitPlan plan_split(int key, double work_ns, double min_ns) {
  SplitPlan plan;
  if (work_ns < min_ns) return plan;
  const int threads = get_num_threads();
  const bool measured = key >= 0 && key < kMaxSplitKeys;
  if (measured) {
    plan.key = key;
    plan.size_class = size_class(work_ns);
    plan.work_ns = work_ns;
  }
  plan.threads = std::size_t(threads);
  if (threads <= 1) return plan;  // (timed all the same: inline runs are what splitting must beat)
  bool split = true;
  if (measured) {
    SplitStats& st = g_split[key][plan.size_class];
    split = plan.choice = st.split_pays();
    const unsigned every = st.explore_every.load(std::memory_order_relaxed);
    // Tries start once both ways have their samples: before, a way short of them is the one that runs. (A try
    // here could starve it: split first, with 2 samples slowed by the first calls' page faults; an inline try
    // faster than their median set tries to every call, so every call ran inline and split never got its
    // third sample. BN, sign and transpose calls of the CIFAR-10 step stayed on one thread so.)
    if (st.calls.fetch_add(1, std::memory_order_relaxed) % every == every - 1 && st.measured()) {
      split = !split;  // try the other way
      plan.trial = true;
    }
  }
  if (split) {  // a multiple of the threads: 5 equal chunks on 2 threads finish at 3/5 of the time, not 1/2
    const auto c = std::size_t(std::max(2.0 * threads, std::min(8.0 * threads, work_ns / kChunkNs)));
    plan.chunks = (c + plan.threads - 1) / plan.threads * plan.threads;
  }
  return plan;
}

void record_split(const SplitPlan& plan, bool split, double wall_ns) {
  SplitStats& st = g_split[plan.key][plan.size_class];
  if (split && !st.warm.exchange(true, std::memory_order_relaxed)) return;
  const float x = float(wall_ns / plan.work_ns);
  (split ? st.split_runs : st.inline_runs).add(x);
  // A call planned for one thread had no choice to make: its time counts as an inline sample, and
  // leaves the schedule of tries alone (it used to look like a turned choice and reset the tries to
  // every kExploreEvery-th call, so alternating 1 and 2 threads ran every 4th 2-thread call inline).
  if (plan.threads <= 1) return;
  const bool choice = st.split_pays();
  const unsigned every = st.explore_every.load(std::memory_order_relaxed);
  unsigned next = every;
  if (plan.trial) {  // a try that confirms the choice makes the next one rarer; one that overturns it, sooner;
                     // one faster than the chosen way's median is tried again at once (its old samples may be
                     // from a burst of load that has passed)
    const Samples& chosen = split ? st.inline_runs : st.split_runs;
    next = chosen.count() > 0 && x < chosen.median() ? 1u
           : choice == plan.choice                   ? (st.split_clearly_pays() ? kExploreClear
                                                                                : std::min(2 * every, kExploreMax))
                                                      : kExploreEvery;
  } else if (choice != plan.choice) {
    next = kExploreEvery;  // the choice turned on its own samples: look at the other way again soon
  } else if (every < kExploreClear && st.split_clearly_pays()) {
    next = kExploreClear;  // measured both ways (or confirmed): splitting wins by a clear margin
  }
  if (next != every) st.explore_every.store(next, std::memory_order_relaxed);
}

std::vector<SplitReport> split_reports() {
  std::vector<SplitReport> out;
  for (int key = 0; key < kMaxSplitKeys; ++key)
    for (int c = 0; c < kSizeClasses; ++c) {
      const SplitStats& st = g_split[key][c];
      const unsigned split_n = st.split_runs.count(), inline_n = st.inline_runs.count();
      const unsigned calls = st.calls.load(std::memory_order_relaxed);
      if (calls == 0 && split_n == 0 && inline_n == 0) continue;
      SplitReport r;
      r.key = key;
      r.size_class = c;
      r.work_ns_low = kMinParallelNs * double(1u << c);
      r.open_ended = c + 1 == kSizeClasses;
      r.calls = calls;
      r.explore_every = st.explore_every.load(std::memory_order_relaxed);
      r.split_samples = split_n;
      r.inline_samples = inline_n;
      r.split_median = split_n ? st.split_runs.median() : 0.0f;
      r.inline_median = inline_n ? st.inline_runs.median() : 0.0f;
      r.measured = st.measured();
      r.splits = st.split_pays();
      r.clearly = st.split_clearly_pays();
      out.push_back(r);
    }
  return out;
}

void reset_split_stats() {
  for (auto& row : g_split)
    for (SplitStats& st : row) {
      st.split_runs.n.store(0, std::memory_order_relaxed);
      st.inline_runs.n.store(0, std::memory_order_relaxed);
      st.calls.store(0, std::memory_order_relaxed);
      st.explore_every.store(kExploreEvery, std::memory_order_relaxed);
      st.warm.store(false, std::memory_order_relaxed);
    }
}

}  // namespace pbn
