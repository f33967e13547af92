#include "threads.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace pbn {

namespace {

int env_threads(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return 0;
  const long n = std::strtol(v, nullptr, 10);  // "4,2" (nested OpenMP syntax) -> 4
  return n > 0 ? int(std::min<long>(n, kMaxThreads)) : 0;
}

class Pool {
 public:
  explicit Pool(int n) : num_threads_(n) {}

  int num_threads() const { return num_threads_; }

  void set_num_threads(int n) {
    std::lock_guard<std::mutex> run(run_mutex_);
    stop_workers();
    num_threads_ = n;
  }

  void run(std::size_t n, const std::function<void(std::size_t)>& fn) {
    std::unique_lock<std::mutex> run(run_mutex_, std::try_to_lock);
    if (n <= 1 || num_threads_ <= 1 || !run.owns_lock()) {
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
    std::unique_lock<std::mutex> lk(m_);
    done_cv_.wait(lk, [&] { return in_job_ == 0; });
    open_ = false;  // workers that wake up late skip this job
  }

  // After fork() only the calling thread exists in the child: abandon this
  // pool (its mutexes may be held by threads that are gone) without joining.
  void abandon() { workers_.clear(); }

 private:
  void drain(const std::function<void(std::size_t)>& fn, std::size_t n) {
    for (std::size_t i; (i = next_.fetch_add(1, std::memory_order_relaxed)) < n;) fn(i);
  }

  void worker() {
    std::uint64_t seen = 0;
    std::unique_lock<std::mutex> lk(m_);
    for (;;) {
      work_cv_.wait(lk, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      if (!open_) continue;
      ++in_job_;
      const auto* fn = fn_;
      const std::size_t n = n_;
      lk.unlock();
      drain(*fn, n);
      lk.lock();
      if (--in_job_ == 0) done_cv_.notify_one();
    }
  }

  void start_workers() {
    while (int(workers_.size()) < num_threads_ - 1) workers_.push_back(new std::thread([this] { worker(); }));
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lk(m_);
      stop_ = true;
    }
    work_cv_.notify_all();
    for (auto* t : workers_) {
      t->join();
      delete t;
    }
    workers_.clear();
    stop_ = false;
  }

  int num_threads_;
  std::mutex run_mutex_;  // one job at a time
  std::mutex m_;
  std::condition_variable work_cv_, done_cv_;
  std::vector<std::thread*> workers_;
  const std::function<void(std::size_t)>* fn_ = nullptr;
  std::size_t n_ = 0;
  std::atomic<std::size_t> next_{0};
  std::uint64_t generation_ = 0;
  int in_job_ = 0;
  bool open_ = false;
  bool stop_ = false;
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

int default_num_threads() {
  if (int n = env_threads("PYBITNET_NUM_THREADS")) return n;
  if (int n = env_threads("OMP_NUM_THREADS")) return n;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

int get_num_threads() { return pool().num_threads(); }

void set_num_threads(int n) { pool().set_num_threads(std::max(1, n)); }

void parallel_for(std::size_t n, const std::function<void(std::size_t)>& fn) { pool().run(n, fn); }

std::size_t plan_chunks(double units, double min_units_per_thread) {
  const int threads = get_num_threads();
  if (threads <= 1 || units < 2 * min_units_per_thread) return 1;
  const double max_chunks = units / min_units_per_thread;
  return std::size_t(std::max(1.0, std::min<double>(4.0 * threads, max_chunks)));
}

}  // namespace pbn
