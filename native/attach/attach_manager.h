/* The attach manager: the per-process main entry of the data plane.
 *
 * It owns the shared-memory client (a region handle), the attach
 * implementations registered in this process, and the compiled programs.
 * instantiate() reads the region's links, JIT-compiles every program linked
 * to a target whose type a registered implementation handles, and attaches
 * it; refresh() does the same again only when the region's generation moved
 * (one atomic load otherwise), so the process follows `bpftime attach`,
 * `detach` and `replace` without restarting:
 *   - new links attach, removed links detach;
 *   - a link whose program was replaced swaps atomically: each hook reads
 *     its program pointer once per run, so a run already in progress
 *     finishes on the old code and the next run uses the new one;
 *   - old code is freed only when no run can still be on it: a retired
 *     program waits until its in-flight counter is zero and a grace period
 *     has passed (covering a thread that loaded the pointer but has not yet
 *     raised the counter).
 *
 * Not thread-safe itself: one thread drives instantiate/refresh (the nginx
 * worker between requests, the agent's watcher thread); hooks may fire on
 * any thread at any time. */
#ifndef BPFTIME_ATTACH_MANAGER_H
#define BPFTIME_ATTACH_MANAGER_H

#include <stdint.h>

#include "attach/attach_impl.h"
#include "bpftime/api.h"

struct bpftime_region;
struct bpftime_attach_manager;

/* Takes a region handle the caller keeps open for the manager's lifetime. */
BPFTIME_API struct bpftime_attach_manager *bpftime_attach_manager_create(struct bpftime_region *r);
/* Destroys: deinstantiates, destroys the registered implementations,
 * unregisters the instance. */
BPFTIME_API void bpftime_attach_manager_destroy(struct bpftime_attach_manager *m);

/* The manager owns impl from now on. At most one implementation per target type. */
BPFTIME_API int bpftime_attach_manager_register_impl(struct bpftime_attach_manager *m,
                                                     struct bpftime_attach_impl *impl);

/* Brings this process to the region's state. Returns the number of links
 * attached, or a negative errno if the region could not be read. A link
 * that fails to attach (program fails to compile, target not found) is
 * logged and skipped; the others attach. */
BPFTIME_API int bpftime_attach_manager_instantiate(struct bpftime_attach_manager *m);
/* Detaches everything and frees all compiled code (after the grace period
 * when hooks may still run on other threads: call only when they cannot). */
BPFTIME_API void bpftime_attach_manager_deinstantiate(struct bpftime_attach_manager *m);
/* instantiate() if the region's generation changed since the last sync;
 * otherwise one atomic load. Returns 1 if it synced, 0 if nothing changed,
 * or a negative errno. */
BPFTIME_API int bpftime_attach_manager_refresh(struct bpftime_attach_manager *m);

/* In a forked child: the copied manager still names the parent's instance
 * entry. Registers this process as an instance of its own; its links are
 * reported at the next refresh. Call from the thread that drives the manager. */
BPFTIME_API int bpftime_attach_manager_after_fork(struct bpftime_attach_manager *m);

/* Records this process's links in the region again (after an attach
 * implementation changed state by itself, e.g. a waiting uprobe hooked when
 * its library was loaded). */
void bpftime_attach_manager_report(struct bpftime_attach_manager *m);

/* Number of links currently attached in this process. */
BPFTIME_API int bpftime_attach_manager_attached(const struct bpftime_attach_manager *m);

/* Marks the calling thread as never inside a hook (e.g. the nginx worker
 * between requests): retired code may be freed at once, without waiting for
 * the grace period, and runs skip the per-thread run record. Call it before
 * the first instantiate: links attached earlier keep the multi-threaded
 * run path. */
BPFTIME_API void bpftime_attach_manager_set_single_threaded(struct bpftime_attach_manager *m,
                                                            int yes);

#endif
