/* The owner lock: a process-shared spinlock whose word names its holder.
 *
 * For the ringbuf producers' reserve, a few dozen instructions run on every
 * event: a robust pthread mutex costs two calls into glibc's general robust
 * path (robust-list bookkeeping on lock and unlock) for a section shorter
 * than those calls. Here taking the lock is one compare-and-swap of 0 to
 * (pid << 32 | tid) and releasing it one store.
 *
 * The guarantee the robust mutex gave is kept: a producer killed while
 * holding the lock does not wedge the others. A waiter that has spun and
 * yielded for a while asks the kernel whether the holder's thread still
 * exists (tgkill(pid, tid, 0): ESRCH once it has exited) and, if not, takes
 * the word over with a compare-and-swap from the dead holder's id (so one
 * waiter wins) and tells its caller to repair what the holder left.
 *
 * Limits, as any tid-based owner check: every process sharing a region must
 * share one pid namespace (as they share /dev/shm), and a dead holder whose
 * pid and tid have both been reused by a new thread looks alive until that
 * thread exits. A holder that is alive but stopped (SIGSTOP, a debugger)
 * keeps the others waiting, as a mutex would. */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "runtime/runtime_internal.h"

void (*rt_rb_reserve_stall)(int stage);

/* This thread's lock id; 0 until its first lock. A forked child starts with
 * its parent thread's copy: the atfork handler clears it. */
static __thread uint64_t self_id __attribute__((tls_model("initial-exec")));
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void forget_id_in_child(void)
{
    self_id = 0;
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, forget_id_in_child);
}

static uint64_t my_id(void)
{
    uint64_t id = self_id;
    if (__builtin_expect(id == 0, 0)) {
        pthread_once(&atfork_once, register_atfork);
        id = self_id = (uint64_t)(uint32_t)getpid() << 32 | (uint32_t)gettid();
    }
    return id;
}

static bool holder_dead(uint64_t id)
{
    long rc = syscall(SYS_tgkill, (pid_t)(id >> 32), (pid_t)(uint32_t)id, 0);
    return rc < 0 && errno == ESRCH;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

#define SPINS_BEFORE_YIELD 256u
#define YIELDS_PER_CHECK 64u
#define YIELDS_BEFORE_SLEEP 4096u

static int lock_slow(shm_owner_lock_t *l, uint64_t me)
{
    for (uint32_t n = 0;; n++) {
        uint64_t cur = atomic_load_explicit(&l->word, memory_order_relaxed);
        if (cur == 0) {
            if (atomic_compare_exchange_weak_explicit(&l->word, &cur, me, memory_order_acquire,
                                                      memory_order_relaxed))
                return 0;
            continue;
        }
        if (cur == me)
            return -EDEADLK;
        if (n < SPINS_BEFORE_YIELD) {
            cpu_relax();
            continue;
        }
        uint32_t yields = n - SPINS_BEFORE_YIELD;
        if (yields % YIELDS_PER_CHECK == YIELDS_PER_CHECK - 1 && holder_dead(cur)) {
            if (atomic_compare_exchange_strong_explicit(&l->word, &cur, me, memory_order_acquire,
                                                        memory_order_relaxed)) {
                BPFTIME_WARN("runtime: process %u died holding a ring buffer lock; recovering it",
                             (unsigned)(cur >> 32));
                return 1;
            }
            continue;
        }
        if (yields < YIELDS_BEFORE_SLEEP) {
            sched_yield();
        } else {
            struct timespec ts = {0, 100000}; /* a holder that is stopped: poll gently */
            nanosleep(&ts, NULL);
        }
    }
}

int shm_owner_lock(shm_owner_lock_t *l)
{
    uint64_t me = my_id(), free_word = 0;
    if (__builtin_expect(atomic_compare_exchange_strong_explicit(
                             &l->word, &free_word, me, memory_order_acquire, memory_order_relaxed),
                         1))
        return 0;
    return lock_slow(l, me);
}

void shm_owner_unlock(shm_owner_lock_t *l)
{
    atomic_store_explicit(&l->word, 0, memory_order_release);
}
