/* Patching must not disturb threads that merely sleep: a thread blocked in a
 * system call outside the patched bytes is not signalled (nanosleep, poll
 * and friends are never restarted after a signal handler runs). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "patcher/patcher.h"
#include "test/harness.h"

/* Two instructions under the jump, so attaching runs a thread fix-up round. */
long sleep_target(long x);
__asm__(".text\n.p2align 4\n.globl sleep_target\n.type sleep_target, @function\n"
        "sleep_target:\n"
        "leaq (%rdi,%rdi,1), %rax\n"
        "addq $1, %rax\n"
        "ret\n"
        ".size sleep_target, .-sleep_target\n");

static atomic_int sleeper_ready;
static int sleeper_result = -2, sleeper_errno;
static struct timespec sleeper_left;

static void *sleeper(void *arg)
{
    (void)arg;
    struct timespec ts = {1, 0};
    atomic_store(&sleeper_ready, 1);
    sleeper_result = nanosleep(&ts, &sleeper_left);
    sleeper_errno = errno;
    return NULL;
}

static int count_enter(struct bpftime_hook_regs *r, void *u)
{
    (void)r;
    atomic_fetch_add((atomic_int *)u, 1);
    return BPFTIME_HOOK_CONTINUE;
}

TEST(sleeping_threads_are_not_interrupted_by_patching)
{
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, sleeper, NULL), 0);
    while (!atomic_load(&sleeper_ready))
        sched_yield();
    struct timespec settle = {0, 50 * 1000 * 1000}; /* let it reach nanosleep */
    nanosleep(&settle, NULL);

    atomic_int enters = 0;
    const struct bpftime_hook_callbacks cb = {.on_enter = count_enter};
    for (int i = 0; i < 5; i++) {
        struct bpftime_hook *h;
        CHECK_EQ(bpftime_hook_attach((void *)sleep_target, &cb, &enters, &h), 0);
        CHECK_EQ(sleep_target(20), 41);
        CHECK_EQ(bpftime_hook_detach(h), 0);
    }
    CHECK_EQ(atomic_load(&enters), 5);
    pthread_join(th, NULL);
    /* The full second elapsed: not cut short with EINTR. */
    CHECK_EQ(sleeper_result, 0);
    CHECK_EQ(sleeper_errno == EINTR, 0);
}
