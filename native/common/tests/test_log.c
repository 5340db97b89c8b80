#include "common/log.h"
#include "test/harness.h"

static char last_message[256];
static int last_level = -1;

static void capture(int level, const char *message)
{
    last_level = level;
    snprintf(last_message, sizeof last_message, "%s", message);
}

TEST(log_callback_receives_formatted_message)
{
    bpftime_log_set_level(BPFTIME_LOG_DEBUG);
    bpftime_log_set_callback(capture);
    bpftime_log(BPFTIME_LOG_INFO, "value=%d name=%s", 42, "x");
    CHECK_EQ(last_level, BPFTIME_LOG_INFO);
    CHECK(strcmp(last_message, "value=42 name=x") == 0);
}

TEST(log_level_filters_lower_priority)
{
    bpftime_log_set_level(BPFTIME_LOG_ERROR);
    bpftime_log_set_callback(capture);
    last_level = -1;
    bpftime_log(BPFTIME_LOG_DEBUG, "hidden");
    CHECK_EQ(last_level, (uint64_t)-1);
    bpftime_log(BPFTIME_LOG_ERROR, "shown");
    CHECK_EQ(last_level, BPFTIME_LOG_ERROR);
}
