/* Shared includes for the verifier's positive suite. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include "../../../../test/fixtures/map_def.h"
