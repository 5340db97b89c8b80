// The "kernel" side of prog.bpf.c: the same names with other sizes and values.
struct bpftime_resized {
    long long counter;
    unsigned long long flags;
};

enum bpftime_wide { BPFTIME_WIDE = 0x200000003ULL };

struct bpftime_resized resized_var;
enum bpftime_wide wide_var;
