/* libbpftime-agent.so: the data plane inside a hooked process.
 *
 * Loaded with LD_PRELOAD (`bpftime start`), its constructor calls
 * bpftime_agent_start($BPFTIME_SHM or "bpftime"). Injected into a running
 * process (`bpftime inject PID`), the injector calls dlopen() and then
 * bpftime_agent_start() inside the target. The agent opens the region,
 * attaches every uprobe/uretprobe link whose binary is loaded in the process,
 * and a watcher thread follows the region (new, removed and replaced links)
 * every 100 ms. bpftime_agent_request_stop() (`bpftime eject PID`) makes the
 * watcher remove every hook and stop; the process keeps running unhooked.
 *
 * The agent never takes the process down: every failure is a log line.
 * Environment: BPFTIME_SHM (region name), BPFTIME_LOG (log level),
 * BPFTIME_AGENT_DISABLE=1 (load but do nothing). */
#ifndef BPFTIME_AGENT_H
#define BPFTIME_AGENT_H

#include <stddef.h>
#include "bpftime/api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Opens region shm (NULL/"" = default), instantiates, starts the watcher.
 * Returns the number of links attached, -EALREADY if running, or a negative
 * errno (logged). Safe to call from an injected call. */
BPFTIME_API int bpftime_agent_start(const char *shm);

/* Asks the watcher to detach everything and stop; returns at once (async-
 * signal-safe: one write to an eventfd). 0, or -ESRCH if not running. */
BPFTIME_API int bpftime_agent_request_stop(void);

/* Stops and waits until every hook is removed. Not from inside a hook. */
BPFTIME_API void bpftime_agent_stop(void);

/* 1 while the agent is running (hooks may be in place). */
BPFTIME_API int bpftime_agent_running(void);

/* Injector (runs in a helper process of the bpftime CLI, see agent.c):
 * makes process pid load agent_path and start it on region shm, through
 * ptrace. Returns 0 or a negative errno with the message in
 * bpftime_last_error_message(). */
BPFTIME_API int bpftime_agent_inject(int pid, const char *agent_path, const char *shm);

/* Makes the agent in process pid stop (bpftime_agent_request_stop through
 * ptrace). Returns 0, -ESRCH if no agent is loaded there, or a negative errno. */
BPFTIME_API int bpftime_agent_eject(int pid);

#ifdef __cplusplus
}
#endif

#endif
