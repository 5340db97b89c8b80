/* Per-thread run records: see run_epoch.h. */
#include "attach/run_epoch.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>

__thread struct run_thread *bpftime_run_self __attribute__((tls_model("initial-exec")));

static _Atomic(struct run_thread *) all_records;
static pthread_key_t release_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static bool key_ok;

static void release(void *p)
{
    struct run_thread *t = p;
    if (bpftime_run_self == t)
        bpftime_run_self = NULL;
    atomic_store(&t->active, 0);
    atomic_store(&t->in_use, false);
}

static void make_key(void)
{
    key_ok = pthread_key_create(&release_key, release) == 0;
}

struct run_thread *bpftime_run_thread_claim(void)
{
    struct run_thread *t;
    for (t = atomic_load(&all_records); t; t = t->next) {
        bool expect = false;
        if (!atomic_load_explicit(&t->in_use, memory_order_relaxed) &&
            atomic_compare_exchange_strong(&t->in_use, &expect, true))
            break;
    }
    if (!t) {
        /* A page of records; the first is ours, the rest join the list. */
        size_t n = 4096 / sizeof *t;
        struct run_thread *page =
            mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (page == MAP_FAILED)
            return NULL;
        atomic_store(&page[0].in_use, true);
        for (size_t i = 0; i < n; i++) {
            struct run_thread *head = atomic_load(&all_records);
            do {
                page[i].next = head;
            } while (!atomic_compare_exchange_weak(&all_records, &head, &page[i]));
        }
        t = &page[0];
    }
    /* The key's destructor gives the record back when the thread exits.
     * pthread_once and pthread_setspecific do not allocate for the first
     * keys (glibc), so this stays usable from a signal handler. */
    pthread_once(&key_once, make_key);
    if (key_ok)
        pthread_setspecific(release_key, t);
    bpftime_run_self = t;
    return t;
}

void bpftime_run_snapshot(struct run_snapshot *s)
{
    *s = (struct run_snapshot){0};
    s->hooks = bpftime_hook_grace_begin();
    if (!s->hooks) {
        s->failed = true;
        return;
    }
    size_t cap = 0;
    for (struct run_thread *t = atomic_load(&all_records); t; t = t->next) {
        if (!atomic_load_explicit(&t->in_use, memory_order_acquire) ||
            atomic_load_explicit(&t->active, memory_order_acquire) == 0)
            continue;
        if (s->n == cap) {
            cap = cap ? 2 * cap : 4;
            void *b = realloc(s->busy, cap * sizeof *s->busy);
            if (!b) {
                s->failed = true;
                return;
            }
            s->busy = b;
        }
        s->busy[s->n].t = t;
        s->busy[s->n].exits = atomic_load_explicit(&t->exits, memory_order_acquire);
        s->n++;
    }
}

bool bpftime_run_snapshot_passed(const struct run_snapshot *s)
{
    if (s->failed || !bpftime_hook_grace_passed(s->hooks))
        return false;
    for (size_t i = 0; i < s->n; i++) {
        struct run_thread *t = s->busy[i].t;
        if (atomic_load_explicit(&t->active, memory_order_acquire) != 0 &&
            atomic_load_explicit(&t->exits, memory_order_acquire) == s->busy[i].exits)
            return false;
    }
    return true;
}

void bpftime_run_snapshot_free(struct run_snapshot *s)
{
    free(s->busy);
    free(s->hooks);
    *s = (struct run_snapshot){0};
}

void bpftime_run_after_fork(void)
{
    for (struct run_thread *t = atomic_load(&all_records); t; t = t->next) {
        if (t == bpftime_run_self)
            continue;
        atomic_store(&t->active, 0);
        atomic_store(&t->in_use, false);
    }
}
