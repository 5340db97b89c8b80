/* main() for every C unit-test binary; see harness.h. */
#include "test/harness.h"

#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_TESTS 4096
#define TEST_TIMEOUT_S 60

struct test_ctx {
    bool failed;
};

static struct {
    const char *name;
    test_fn fn;
} registry[MAX_TESTS];
static int registry_len;

void test_register(const char *name, test_fn fn)
{
    if (registry_len == MAX_TESTS) {
        fprintf(stderr, "harness: more than %d tests\n", MAX_TESTS);
        abort();
    }
    registry[registry_len].name = name;
    registry[registry_len].fn = fn;
    registry_len++;
}

void test_fail(struct test_ctx *t, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    t->failed = true;
    fprintf(stdout, "FAIL-DETAIL %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

bool test_failed(const struct test_ctx *t)
{
    return t->failed;
}

/* Runs one test in a child; returns true on success. The child reports its
 * failure detail on a pipe so the parent prints one line per test. */
static bool run_one(const char *prog, int i)
{
    int fds[2];
    if (pipe(fds) != 0)
        return false;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDOUT_FILENO);
        alarm(TEST_TIMEOUT_S);
        struct test_ctx t = {false};
        registry[i].fn(&t);
        fflush(stdout);
        _exit(t.failed ? 1 : 0);
    }
    close(fds[1]);
    char buf[4096];
    size_t used = 0;
    ssize_t n;
    while ((n = read(fds[0], buf + used, sizeof buf - 1 - used)) > 0) {
        used += (size_t)n;
        if (used == sizeof buf - 1)
            break;
    }
    buf[used] = 0;
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (ok) {
        printf("ok %s/%s\n", prog, registry[i].name);
    } else {
        const char *detail = strstr(buf, "FAIL-DETAIL ");
        char reason[1024];
        if (detail) {
            snprintf(reason, sizeof reason, "%s", detail + strlen("FAIL-DETAIL "));
            char *nl = strchr(reason, '\n');
            if (nl)
                *nl = 0;
        } else if (WIFSIGNALED(status)) {
            snprintf(reason, sizeof reason, "killed by signal %d (%s)", WTERMSIG(status),
                     strsignal(WTERMSIG(status)));
        } else {
            snprintf(reason, sizeof reason, "exit status %d", WEXITSTATUS(status));
        }
        printf("not ok %s/%s: %s\n", prog, registry[i].name, reason);
        /* Show the child's other output (sanitizer reports, logs) for debugging. */
        if (used)
            fprintf(stderr, "---- output of %s ----\n%s\n", registry[i].name, buf);
    }
    fflush(stdout);
    return ok;
}

int main(int argc, char **argv)
{
    const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    if (argc > 1 && strcmp(argv[1], "--list") == 0) {
        for (int i = 0; i < registry_len; i++)
            printf("%s\n", registry[i].name);
        return 0;
    }
    int failures = 0, ran = 0;
    for (int i = 0; i < registry_len; i++) {
        bool selected = argc == 1;
        for (int a = 1; a < argc && !selected; a++)
            selected = strcmp(argv[a], registry[i].name) == 0;
        if (!selected)
            continue;
        ran++;
        if (!run_one(prog, i))
            failures++;
    }
    if (ran == 0) {
        fprintf(stderr, "%s: no test selected\n", prog);
        return 2;
    }
    return failures ? 1 : 0;
}
