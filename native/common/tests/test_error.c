/* The one error convention: bpftime_set_error stores a code and a message per
 * thread; a message may quote the previous one to add context. */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "common/error.h"
#include "test/harness.h"
#include "vm/ebpf_vm.h"

TEST(set_error_returns_the_code_and_keeps_the_message)
{
    CHECK_EQ(bpftime_set_error(-ENOENT, "map %u: no such key", 7u), -ENOENT);
    CHECK_EQ(bpftime_last_errno(), -ENOENT);
    CHECK(strcmp(bpftime_last_error_message(), "map 7: no such key") == 0);
}

TEST(a_message_may_wrap_the_previous_one)
{
    bpftime_set_error(-EINVAL, "bad offset");
    bpftime_set_error(-EINVAL, "link %d: %s: %s", 3, "uprobe", bpftime_last_error_message());
    CHECK(strcmp(bpftime_last_error_message(), "link 3: uprobe: bad offset") == 0);
}

TEST(quiet_keeps_the_code_but_not_the_text)
{
    bpftime_set_error(-EINVAL, "before");
    bpftime_error_quiet = 1;
    CHECK_EQ(bpftime_set_error(-EEXIST, "not formatted"), -EEXIST);
    bpftime_error_quiet = 0;
    CHECK_EQ(bpftime_last_errno(), -EEXIST);
    CHECK(strcmp(bpftime_last_error_message(), "before") == 0);
}

TEST(the_vm_reads_the_same_storage)
{
    struct ebpf_vm *vm = ebpf_vm_create();
    CHECK(vm != NULL);
    CHECK(ebpf_vm_load(vm, "", 0) < 0);
    CHECK(strcmp(ebpf_vm_error(vm), bpftime_last_error_message()) == 0);
    CHECK_STR_CONTAINS(bpftime_last_error_message(), "empty program");
    ebpf_vm_destroy(vm);
}

static void *other_thread(void *arg)
{
    (void)arg;
    bpftime_set_error(-EIO, "from another thread");
    return NULL;
}

TEST(each_thread_has_its_own_error)
{
    bpftime_set_error(-ENOSPC, "mine");
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, other_thread, NULL), 0);
    pthread_join(th, NULL);
    CHECK_EQ(bpftime_last_errno(), -ENOSPC);
    CHECK(strcmp(bpftime_last_error_message(), "mine") == 0);
}
