/* Malformed bytecode refused at load (with the instruction index), runtime
 * faults and budget exhaustion reported as errors (never crashes), and the
 * VM API: regions, bounds-check callback, lddw relocation, tail calls,
 * compile caching, concurrent execution with atomics. */
#include <pthread.h>

#include "vm/tests/vm_case.h"

/* ---- load-time validation ---- */
VM_CASE(load_unknown_opcode, .load_err = -EINVAL, .err = "instruction 1: unknown opcode 0xff",
        CODE(MOV64_IMM(0, 0), RAW(0xff, 0, 0, 0, 0), EXIT()))
VM_CASE(load_legacy_ld_abs_refused, .load_err = -EINVAL,
        .err = "instruction 0: unknown opcode 0x20", CODE(RAW(0x20, 0, 0, 0, 0), EXIT()))
VM_CASE(load_jmp32_call_refused, .load_err = -EINVAL, .err = "instruction 0: unknown opcode 0x86",
        CODE(RAW(0x86, 0, 0, 0, 1), EXIT()))
VM_CASE(load_jmp32_exit_refused, .load_err = -EINVAL, .err = "instruction 1",
        CODE(MOV64_IMM(0, 0), RAW(0x96, 0, 0, 0, 0), EXIT()))
VM_CASE(load_neg_reg_refused, .load_err = -EINVAL, .err = "instruction 0: unknown opcode 0x8f",
        CODE(RAW(0x8f, 0, 1, 0, 0), EXIT()))
VM_CASE(load_alu_op_0xe0_refused, .load_err = -EINVAL, .err = "instruction 0: unknown opcode 0xe7",
        CODE(RAW(0xe7, 0, 0, 0, 0), EXIT()))
VM_CASE(load_bswap_reg_form_refused, .load_err = -EINVAL,
        .err = "instruction 0: unknown opcode 0xdf", CODE(RAW(0xdf, 0, 0, 0, 16), EXIT()))
VM_CASE(load_ldx_dw_sx_refused, .load_err = -EINVAL, .err = "instruction 0: unknown opcode 0x99",
        CODE(RAW(0x99, 0, 1, 0, 0), EXIT()))
VM_CASE(load_bad_atomic_op, .load_err = -EINVAL, .err = "instruction 0: unknown atomic operation",
        CODE(ATOMIC(BPF_DW, 0x10, 1, 2, 0), EXIT()))
VM_CASE(load_bad_endian_width, .load_err = -EINVAL, .err = "instruction 0: byte swap width 8",
        CODE(BE(0, 8), EXIT()))
VM_CASE(load_bad_sdiv_offset, .load_err = -EINVAL, .err = "instruction 0",
        CODE(INSN(BPF_ALU64 | BPF_DIV | BPF_K, 0, 0, 2, 1), EXIT()))
VM_CASE(load_bad_movsx_offset, .load_err = -EINVAL, .err = "instruction 0",
        CODE(MOVSX64_REG(0, 1, 7), EXIT()))
VM_CASE(load_movsx32_32_refused, .load_err = -EINVAL, .err = "instruction 0",
        CODE(MOVSX32_REG(0, 1, 32), EXIT()))
VM_CASE(load_bad_dst_register, .load_err = -EINVAL,
        .err = "instruction 1: invalid destination register r11",
        CODE(MOV64_IMM(0, 0), MOV64_IMM(11, 0), EXIT()))
VM_CASE(load_bad_src_register, .load_err = -EINVAL,
        .err = "instruction 0: invalid source register r12", CODE(MOV64_REG(0, 12), EXIT()))
VM_CASE(load_write_r10_refused, .load_err = -EINVAL,
        .err = "instruction 0: writes read-only register r10",
        CODE(ALU64_IMM(BPF_ADD, 10, 8), EXIT()))
VM_CASE(load_ldx_into_r10_refused, .load_err = -EINVAL,
        .err = "instruction 0: writes read-only register r10", CODE(LDX(BPF_DW, 10, 1, 0), EXIT()))
VM_CASE(load_lddw_into_r10_refused, .load_err = -EINVAL, .err = "instruction 0",
        CODE(LDDW(10, 1), EXIT()))
VM_CASE(load_atomic_fetch_into_r10_refused, .load_err = -EINVAL, .err = "instruction 0",
        CODE(ATOMIC(BPF_DW, BPF_ADD | BPF_FETCH, 1, 10, 0), EXIT()))
VM_CASE(load_store_via_r10_allowed, .expect = 0,
        CODE(ST_IMM(BPF_DW, 10, -8, 0), MOV64_IMM(0, 0), EXIT()))
VM_CASE(load_jump_past_end, .load_err = -EINVAL, .err = "instruction 1: jump target 5 is outside",
        CODE(MOV64_IMM(0, 0), JA(3), EXIT()))
/* the edges: one past the last instruction is outside, the last one is not */
VM_CASE(load_jump_to_one_past_the_end, .load_err = -EINVAL,
        .err = "instruction 1: jump target 3 is outside", CODE(MOV64_IMM(0, 0), JA(1), EXIT()))
VM_CASE(load_jump_to_the_last_instruction, .expect = 0, CODE(MOV64_IMM(0, 0), JA(0), EXIT()))
VM_CASE(load_jump_before_start, .load_err = -EINVAL,
        .err = "instruction 1: jump target -1 is outside",
        CODE(MOV64_IMM(0, 0), JMP_IMM(BPF_JEQ, 0, 0, -3), EXIT()))
VM_CASE(load_ja32_past_end, .load_err = -EINVAL, .err = "instruction 0: jump target",
        CODE(JA32(100), EXIT()))
VM_CASE(load_jump_into_lddw, .load_err = -EINVAL,
        .err = "instruction 0: jump target 2 is the second half of an lddw",
        CODE(JA(1), LDDW(0, 1), EXIT()))
VM_CASE(load_truncated_lddw, .load_err = -EINVAL, .err = "instruction 1: lddw is truncated",
        CODE(MOV64_IMM(0, 0), RAW(0x18, 0, 0, 0, 1)))
VM_CASE(load_lddw_bad_second_half, .load_err = -EINVAL,
        .err = "instruction 1: malformed second half",
        CODE(RAW(0x18, 0, 0, 0, 1), MOV64_IMM(0, 1), EXIT()))
VM_CASE(load_falls_off_end, .load_err = -EINVAL,
        .err = "instruction 1: program does not end with exit",
        CODE(MOV64_IMM(0, 0), MOV64_IMM(0, 1)))
VM_CASE(load_ends_with_conditional_jump, .load_err = -EINVAL, .err = "instruction 2",
        CODE(MOV64_IMM(0, 0), EXIT(), JMP_IMM(BPF_JEQ, 0, 0, -2)))
VM_CASE(load_ends_with_lddw, .load_err = -EINVAL, .err = "instruction 2: program does not end",
        CODE(EXIT(), LDDW(0, 1)))
VM_CASE(load_unknown_helper, .load_err = -ENOENT, .err = "instruction 1: call to unknown helper 77",
        CODE(MOV64_IMM(0, 0), CALL_HELPER(77), EXIT()))
VM_CASE(load_helper_id_out_of_range, .load_err = -ENOENT,
        .err = "instruction 0: call to unknown helper", CODE(CALL_HELPER(100000), EXIT()))
VM_CASE(load_local_call_out_of_range, .load_err = -EINVAL,
        .err = "instruction 0: local call target 11", CODE(CALL_LOCAL(10), EXIT()))
VM_CASE(load_local_call_negative, .load_err = -EINVAL, .err = "instruction 1: local call target -1",
        CODE(MOV64_IMM(0, 0), CALL_LOCAL(-3), EXIT()))
VM_CASE(load_kfunc_call_refused, .load_err = -EINVAL, .err = "instruction 0: unsupported call kind",
        CODE(INSN(BPF_JMP | BPF_CALL, 0, 2, 0, 5), EXIT()))
VM_CASE(load_pseudo_lddw_without_callback, .load_err = -EINVAL,
        .err = "instruction 0: lddw with pseudo source 1", CODE(LDDW_PSEUDO(1, 1, 3, 0), EXIT()))
VM_CASE(load_unknown_pseudo_source, .load_err = -EINVAL,
        .err = "instruction 0: unknown lddw pseudo source 9", CODE(LDDW_PSEUDO(1, 9, 3, 0), EXIT()))
VM_CASE(load_tail_call_id_accepted, .expect = (uint64_t)-ENOENT,
        CODE(CALL_HELPER(EBPF_HELPER_TAIL_CALL), EXIT()), .interp_only = true)

TEST(load_empty_program)
{
    struct ebpf_vm *vm = case_vm();
    static const struct ebpf_inst one[] = {EXIT()};
    CHECK_EQ(ebpf_vm_load(vm, one, 0), (uint64_t)-EINVAL);
    CHECK_STR_CONTAINS(ebpf_vm_error(vm), "empty program");
    CHECK_EQ(ebpf_vm_load(vm, NULL, 0), (uint64_t)-EINVAL);
    ebpf_vm_destroy(vm);
}

TEST(load_length_not_multiple_of_8)
{
    struct ebpf_vm *vm = case_vm();
    static const struct ebpf_inst prog[] = {MOV64_IMM(0, 0), EXIT()};
    CHECK_EQ(ebpf_vm_load(vm, prog, 12), (uint64_t)-EINVAL);
    CHECK_STR_CONTAINS(ebpf_vm_error(vm), "not a multiple of 8");
    ebpf_vm_destroy(vm);
}

TEST(load_too_many_instructions)
{
    struct ebpf_vm *vm = case_vm();
    size_t n = EBPF_MAX_INSTS + 1;
    struct ebpf_inst *prog = calloc(n, sizeof *prog);
    CHECK(prog);
    for (size_t i = 0; i < n; i++)
        prog[i] = (struct ebpf_inst)EXIT();
    CHECK_EQ(ebpf_vm_load(vm, prog, n * sizeof *prog), (uint64_t)-E2BIG);
    CHECK_STR_CONTAINS(ebpf_vm_error(vm), "1000001 instructions");
    CHECK_EQ(ebpf_vm_load(vm, prog, (n - 1) * sizeof *prog), 0);
    CHECK_EQ(ebpf_vm_num_insts(vm), n - 1);
    free(prog);
    ebpf_vm_destroy(vm);
}

TEST(load_twice_requires_unload)
{
    struct ebpf_vm *vm = case_vm();
    static const struct ebpf_inst a[] = {MOV64_IMM(0, 1), EXIT()};
    static const struct ebpf_inst b[] = {MOV64_IMM(0, 2), EXIT()};
    uint64_t r = 0;
    CHECK_EQ(ebpf_vm_load(vm, a, sizeof a), 0);
    CHECK_EQ(ebpf_vm_load(vm, b, sizeof b), (uint64_t)-EEXIST);
    CHECK_EQ(ebpf_vm_exec(vm, NULL, 0, &r), 0);
    CHECK_EQ(r, 1);
    ebpf_vm_unload(vm);
    CHECK_EQ(ebpf_vm_num_insts(vm), 0);
    CHECK_EQ(ebpf_vm_exec(vm, NULL, 0, &r), (uint64_t)-EINVAL);
    CHECK_EQ(ebpf_vm_load(vm, b, sizeof b), 0);
    CHECK_EQ(ebpf_vm_exec(vm, NULL, 0, &r), 0);
    CHECK_EQ(r, 2);
    ebpf_vm_destroy(vm);
}

TEST(load_does_not_keep_caller_buffer)
{
    struct ebpf_vm *vm = case_vm();
    struct ebpf_inst prog[] = {MOV64_IMM(0, 1), EXIT()};
    uint64_t r = 0;
    CHECK_EQ(ebpf_vm_load(vm, prog, sizeof prog), 0);
    prog[0] = (struct ebpf_inst)RAW(0xff, 0, 0, 0, 0);
    CHECK_EQ(ebpf_vm_exec(vm, NULL, 0, &r), 0);
    CHECK_EQ(r, 1);
    ebpf_vm_destroy(vm);
}

TEST(register_helper_out_of_range)
{
    struct ebpf_vm *vm = case_vm();
    CHECK_EQ(ebpf_vm_register_helper(vm, EBPF_MAX_HELPERS, "x", case_helper_const),
             (uint64_t)-EINVAL);
    CHECK_EQ(ebpf_vm_register_helper(vm, 5, "x", NULL), (uint64_t)-EINVAL);
    CHECK_EQ(ebpf_vm_register_helper(vm, EBPF_MAX_HELPERS - 1, "last", case_helper_const), 0);
    ebpf_vm_destroy(vm);
}

/* ---- runtime faults: an error naming the instruction, never a crash ---- */
#define MEM64 .mem = (const uint8_t[64]){0}, .mem_len = 64
VM_CASE(oob_read_past_mem, MEM64, .exec_err = -EFAULT, .err = "out-of-bounds read of 4 bytes at 0x",
        CODE(MOV64_IMM(0, 0), MOV64_IMM(2, 0), LDX(BPF_W, 0, 1, 64), EXIT()))
VM_CASE(oob_read_names_instruction, MEM64, .exec_err = -EFAULT,
        .err = "at instruction 2: ldxw r0, [r1+64]",
        CODE(MOV64_IMM(0, 0), MOV64_IMM(2, 0), LDX(BPF_W, 0, 1, 64), EXIT()))
VM_CASE(oob_read_straddling_end, MEM64, .exec_err = -EFAULT, .err = "read of 8 bytes",
        CODE(LDX(BPF_DW, 0, 1, 60), EXIT()))
VM_CASE(read_last_byte_of_mem_ok, MEM64, .expect = 0, CODE(LDX(BPF_B, 0, 1, 63), EXIT()))
VM_CASE(oob_read_before_mem, MEM64, .exec_err = -EFAULT, .err = "at instruction 0",
        CODE(LDX(BPF_B, 0, 1, -1), EXIT()))
VM_CASE(oob_write_past_mem, MEM64, .exec_err = -EFAULT, .err = "out-of-bounds write of 8 bytes",
        CODE(ST_IMM(BPF_DW, 1, 64, 1), EXIT()))
VM_CASE(oob_stx_names_instruction, MEM64, .exec_err = -EFAULT,
        .err = "at instruction 1: stxw [r1+100], r2",
        CODE(MOV64_IMM(2, 1), STX(BPF_W, 1, 2, 100), EXIT()))
VM_CASE(null_deref, .exec_err = -EFAULT, .err = "read of 8 bytes at 0x0 at instruction 1",
        CODE(MOV64_IMM(1, 0), LDX(BPF_DW, 0, 1, 0), EXIT()))
VM_CASE(wild_pointer_write, .exec_err = -EFAULT, .err = "at instruction 2",
        CODE(LDDW(1, 0xdead0000ULL), ST_IMM(BPF_W, 1, 0, 1), EXIT()))
VM_CASE(stack_above_top, .exec_err = -EFAULT, .err = "at instruction 0",
        CODE(STX(BPF_DW, 10, 1, 0), EXIT()))
VM_CASE(stack_below_bottom, .exec_err = -EFAULT, .err = "at instruction 1",
        CODE(MOV64_REG(2, 10), LDX(BPF_B, 0, 2, -(EBPF_STACK_SIZE *EBPF_MAX_CALL_DEPTH) - 1),
             EXIT()))
VM_CASE(atomic_oob, MEM64, .exec_err = -EFAULT, .err = "at instruction 1",
        CODE(MOV64_IMM(2, 1), ATOMIC(BPF_DW, BPF_ADD, 1, 2, 64), EXIT()))
VM_CASE(atomic_misaligned, MEM64, .exec_err = -EFAULT, .err = "misaligned atomic",
        CODE(MOV64_IMM(2, 1), ATOMIC(BPF_W, BPF_ADD, 1, 2, 2), EXIT()))
VM_CASE(oob_in_callee_names_callee_instruction, .exec_err = -EFAULT, .err = "at instruction 3",
        CODE(CALL_LOCAL(1), EXIT(), MOV64_IMM(1, 0), LDX(BPF_W, 0, 1, 0), EXIT()))

/* ---- budget ---- */
VM_CASE(budget_infinite_loop, .exec_err = -E2BIG, .budget = 1000,
        .err = "instruction budget of 1000 exhausted at instruction 1",
        CODE(MOV64_IMM(0, 0), JA(-1), EXIT()))
VM_CASE(budget_exact_is_enough, .expect = 3, .budget = 4,
        CODE(MOV64_IMM(0, 1), ALU64_IMM(BPF_ADD, 0, 1), ALU64_IMM(BPF_ADD, 0, 1), EXIT()))
VM_CASE(budget_one_short_fails, .exec_err = -E2BIG, .budget = 3,
        .err = "budget of 3 exhausted at instruction 3: exit",
        CODE(MOV64_IMM(0, 1), ALU64_IMM(BPF_ADD, 0, 1), ALU64_IMM(BPF_ADD, 0, 1), EXIT()))
VM_CASE(budget_default_stops_infinite_loop, .exec_err = -E2BIG, .err = "exhausted at instruction 0",
        CODE(JA(-1)))

VM_CASE(budget_names_instruction_inside_straight_run, .exec_err = -E2BIG, .budget = 5,
        .err = "budget of 5 exhausted at instruction 5: mov r0, 5",
        CODE(MOV64_IMM(0, 0), MOV64_IMM(0, 1), MOV64_IMM(0, 2), MOV64_IMM(0, 3), MOV64_IMM(0, 4),
             MOV64_IMM(0, 5), MOV64_IMM(0, 6), EXIT()))
VM_CASE(budget_lddw_counts_two, .exec_err = -E2BIG, .budget = 3,
        .err = "exhausted at instruction 3: mov r0, 2",
        CODE(MOV64_IMM(0, 1), LDDW(1, 5), MOV64_IMM(0, 2), EXIT()))
VM_CASE(budget_lddw_straddling_limit, .exec_err = -E2BIG, .budget = 2,
        .err = "exhausted at instruction 1: lddw r1, 0x5",
        CODE(MOV64_IMM(0, 1), LDDW(1, 5), MOV64_IMM(0, 2), EXIT()))
/* 2 + 10 iterations of 3 + exit = 33 instructions */
VM_CASE(budget_loop_exact, .expect = 55, .budget = 33,
        CODE(MOV64_IMM(0, 0), MOV64_IMM(1, 10), ALU64_REG(BPF_ADD, 0, 1), ALU64_IMM(BPF_SUB, 1, 1),
             JMP_IMM(BPF_JNE, 1, 0, -3), EXIT()))
VM_CASE(budget_loop_one_short, .exec_err = -E2BIG, .budget = 32, .err = "at instruction 5: exit",
        CODE(MOV64_IMM(0, 0), MOV64_IMM(1, 10), ALU64_REG(BPF_ADD, 0, 1), ALU64_IMM(BPF_SUB, 1, 1),
             JMP_IMM(BPF_JNE, 1, 0, -3), EXIT()))
VM_CASE(budget_counts_callee, .exec_err = -E2BIG, .budget = 3, .err = "at instruction 4",
        CODE(CALL_LOCAL(1), EXIT(), MOV64_IMM(0, 1), MOV64_IMM(0, 2), MOV64_IMM(0, 3), EXIT()))

TEST(budget_reset_to_default)
{
    struct ebpf_vm *vm = case_vm();
    ebpf_vm_set_budget(vm, 5);
    ebpf_vm_set_budget(vm, 0);
    static const struct ebpf_inst loop[] = {MOV64_IMM(0, 0), ALU64_IMM(BPF_ADD, 0, 1),
                                            JMP_IMM(BPF_JLT, 0, 1000, -2), EXIT()};
    uint64_t r = 0;
    CHECK_EQ(ebpf_vm_load(vm, loop, sizeof loop), 0);
    CHECK_EQ(ebpf_vm_exec(vm, NULL, 0, &r), 0);
    CHECK_EQ(r, 1000);
    ebpf_vm_destroy(vm);
}

/* ---- regions and the bounds-check callback ---- */
/* Loads prog and runs it without memory: exec's code, r0 in *r. A program
 * that does not load fails the test (and no code of exec's comes back). */
static int load_and_run(struct test_ctx *t, struct ebpf_vm *vm, const struct ebpf_inst *prog,
                        size_t size, uint64_t *r)
{
    int rc = ebpf_vm_load(vm, prog, size);
    if (rc) {
        test_fail(t, __FILE__, __LINE__, "load: %d %s", rc, ebpf_vm_error(vm));
        return INT32_MIN;
    }
    return ebpf_vm_exec(vm, NULL, 0, r);
}

static uint64_t region_ro[2] = {0x1111, 0x2222};
static uint64_t region_rw[2];

TEST(region_read_and_write)
{
    struct ebpf_vm *vm = case_vm();
    CHECK_EQ(ebpf_vm_add_region(vm, region_ro, sizeof region_ro, false), 0);
    CHECK_EQ(ebpf_vm_add_region(vm, region_rw, sizeof region_rw, true), 0);
    struct ebpf_inst prog[] = {
        LDDW(1, (uintptr_t)region_ro),
        LDDW(2, (uintptr_t)region_rw),
        LDX(BPF_DW, 0, 1, 8),
        STX(BPF_DW, 2, 0, 8),
        EXIT(),
    };
    uint64_t r = 0;
    CHECK_EQ(load_and_run(t, vm, prog, sizeof prog, &r), 0);
    CHECK_EQ(r, 0x2222);
    CHECK_EQ(region_rw[1], 0x2222);
    ebpf_vm_destroy(vm);
}

TEST(region_read_only_refuses_write)
{
    struct ebpf_vm *vm = case_vm();
    CHECK_EQ(ebpf_vm_add_region(vm, region_ro, sizeof region_ro, false), 0);
    struct ebpf_inst prog[] = {LDDW(1, (uintptr_t)region_ro), ST_IMM(BPF_DW, 1, 0, 7), EXIT()};
    uint64_t r = 0;
    CHECK_EQ(load_and_run(t, vm, prog, sizeof prog, &r), (uint64_t)-EFAULT);
    CHECK_STR_CONTAINS(ebpf_vm_error(vm), "out-of-bounds write of 8 bytes");
    CHECK_STR_CONTAINS(ebpf_vm_error(vm), "at instruction 2");
    CHECK_EQ(region_ro[0], 0x1111);
    ebpf_vm_destroy(vm);
}

TEST(region_past_end_refused_and_clear)
{
    struct ebpf_vm *vm = case_vm();
    CHECK_EQ(ebpf_vm_add_region(vm, region_ro, sizeof region_ro, false), 0);
    struct ebpf_inst prog[] = {LDDW(1, (uintptr_t)region_ro), LDX(BPF_DW, 0, 1, 9), EXIT()};
    struct ebpf_inst ok[] = {LDDW(1, (uintptr_t)region_ro), LDX(BPF_DW, 0, 1, 0), EXIT()};
    uint64_t r = 0;
    CHECK_EQ(load_and_run(t, vm, prog, sizeof prog, &r), (uint64_t)-EFAULT);
    ebpf_vm_unload(vm);
    CHECK_EQ(ebpf_vm_load(vm, ok, sizeof ok), 0);
    CHECK_EQ(ebpf_vm_exec(vm, NULL, 0, &r), 0);
    CHECK_EQ(r, 0x1111);
    ebpf_vm_clear_regions(vm);
    CHECK_EQ(ebpf_vm_exec(vm, NULL, 0, &r), (uint64_t)-EFAULT);
    ebpf_vm_destroy(vm);
}

TEST(region_table_full)
{
    struct ebpf_vm *vm = case_vm();
    for (int i = 0; i < EBPF_MAX_REGIONS; i++)
        CHECK_EQ(ebpf_vm_add_region(vm, region_rw, 8, true), 0);
    CHECK_EQ(ebpf_vm_add_region(vm, region_rw, 8, true), (uint64_t)-ENOSPC);
    ebpf_vm_destroy(vm);
}

static uint64_t cb_calls;
static bool cb_allow(void *user, uint64_t addr, uint64_t size, bool write)
{
    cb_calls++;
    uint64_t base = (uintptr_t)user;
    return !write && addr >= base && addr + size <= base + 16;
}

TEST(bounds_check_callback)
{
    struct ebpf_vm *vm = case_vm();
    static uint64_t data[2] = {0xabc, 0xdef};
    ebpf_vm_set_bounds_check(vm, cb_allow, data);
    struct ebpf_inst prog[] = {LDDW(1, (uintptr_t)data), LDX(BPF_DW, 0, 1, 8), EXIT()};
    struct ebpf_inst bad[] = {LDDW(1, (uintptr_t)data), STX(BPF_DW, 1, 1, 0), EXIT()};
    uint64_t r = 0;
    CHECK_EQ(load_and_run(t, vm, prog, sizeof prog, &r), 0);
    CHECK_EQ(r, 0xdef);
    CHECK(cb_calls >= 1);
    ebpf_vm_unload(vm);
    CHECK_EQ(ebpf_vm_load(vm, bad, sizeof bad), 0);
    CHECK_EQ(ebpf_vm_exec(vm, NULL, 0, &r), (uint64_t)-EFAULT);
    CHECK_EQ(data[0], 0xabc);
    ebpf_vm_destroy(vm);
}

/* ---- lddw relocation ---- */
static uint64_t reloc_cb(void *user, uint32_t src, uint32_t imm, uint32_t next_imm, bool *ok)
{
    (void)user;
    if (src == 1 && imm == 7)
        return 0x7000000000000007ULL;
    if (src == 2)
        return 0x100000 + imm * 0x1000 + next_imm;
    *ok = false;
    return 0;
}

TEST(lddw_pseudo_resolved_at_load)
{
    struct ebpf_vm *vm = case_vm();
    ebpf_vm_set_lddw_reloc(vm, reloc_cb, NULL);
    struct ebpf_inst prog[] = {LDDW_PSEUDO(1, 1, 7, 0), LDDW_PSEUDO(2, 2, 3, 16), MOV64_REG(0, 1),
                               ALU64_REG(BPF_ADD, 0, 2), EXIT()};
    uint64_t r = 0;
    CHECK_EQ(load_and_run(t, vm, prog, sizeof prog, &r), 0);
    CHECK_EQ(r, 0x7000000000000007ULL + 0x103010);
    ebpf_jit_fn fn;
    int have = case_try_compile(t, vm, &fn);
    CHECK(have >= 0);
    if (have)
        CHECK_EQ(fn(NULL, 0), 0x7000000000000007ULL + 0x103010);
    ebpf_vm_destroy(vm);
}

TEST(lddw_pseudo_unresolved_names_instruction)
{
    struct ebpf_vm *vm = case_vm();
    ebpf_vm_set_lddw_reloc(vm, reloc_cb, NULL);
    struct ebpf_inst prog[] = {MOV64_IMM(0, 0), LDDW_PSEUDO(1, 1, 8, 0), EXIT()};
    CHECK_EQ(ebpf_vm_load(vm, prog, sizeof prog), (uint64_t)-ENOENT);
    CHECK_STR_CONTAINS(ebpf_vm_error(vm), "instruction 1: cannot resolve lddw pseudo source 1");
    CHECK_EQ(ebpf_vm_num_insts(vm), 0);
    ebpf_vm_destroy(vm);
}

/* ---- tail calls ---- */
struct tail_ctx {
    struct ebpf_vm *progs[4];
    uint64_t last_map;
    int calls;
};

static struct ebpf_vm *tail_lookup(void *user, uint64_t map, uint64_t index)
{
    struct tail_ctx *c = user;
    c->last_map = map;
    c->calls++;
    return index < 4 ? c->progs[index] : NULL;
}

static struct ebpf_vm *load_or_die(const struct ebpf_inst *p, size_t bytes)
{
    struct ebpf_vm *vm = case_vm();
    if (ebpf_vm_load(vm, p, bytes) != 0)
        abort();
    return vm;
}

TEST(tail_call_runs_other_program_with_same_ctx)
{
    struct tail_ctx c = {0};
    /* target: r0 = *(u32 *)(r1 + 0) + r6 (r6 is whatever the caller left) */
    static const struct ebpf_inst target[] = {LDX(BPF_W, 0, 1, 0), ALU64_IMM(BPF_ADD, 0, 1000),
                                              EXIT()};
    static const struct ebpf_inst main_prog[] = {
        MOV64_IMM(2, 0x55),
        MOV64_IMM(3, 1),
        CALL_HELPER(EBPF_HELPER_TAIL_CALL),
        MOV64_IMM(0, 1), /* not reached */
        EXIT(),
    };
    c.progs[1] = load_or_die(target, sizeof target);
    struct ebpf_vm *vm = load_or_die(main_prog, sizeof main_prog);
    ebpf_vm_set_tail_call(vm, tail_lookup, &c);
    uint32_t ctx = 42;
    uint64_t r = 0;
    CHECK_EQ(ebpf_vm_exec(vm, &ctx, sizeof ctx, &r), 0);
    CHECK_EQ(r, 1042);
    CHECK_EQ(c.last_map, 0x55);
    CHECK_EQ(c.calls, 1);
    /* JIT code tail-calls straight into the target's JIT code, so the
     * target must be compiled first (the attach manager compiles all). */
    ebpf_jit_fn fn, target_fn;
    int have = case_try_compile(t, c.progs[1], &target_fn);
    CHECK(have >= 0);
    if (have) {
        CHECK_EQ(case_try_compile(t, vm, &fn), 1);
        CHECK_EQ(fn(&ctx, sizeof ctx), 1042);
        CHECK_EQ(c.calls, 2);
    }
    ebpf_vm_destroy(vm);
    ebpf_vm_destroy(c.progs[1]);
}

TEST(tail_call_missing_falls_through)
{
    struct tail_ctx c = {0};
    static const struct ebpf_inst main_prog[] = {
        MOV64_IMM(3, 3), CALL_HELPER(EBPF_HELPER_TAIL_CALL), MOV64_REG(6, 0),
        MOV64_IMM(0, 7), JMP_IMM(BPF_JSGE, 6, 0, 1),         MOV64_IMM(0, 9),
        EXIT(),
    };
    struct ebpf_vm *vm = load_or_die(main_prog, sizeof main_prog);
    ebpf_vm_set_tail_call(vm, tail_lookup, &c);
    uint64_t r = 0;
    CHECK_EQ(ebpf_vm_exec(vm, NULL, 0, &r), 0);
    CHECK_EQ(r, 9); /* helper reported a negative error */
    CHECK_EQ(c.calls, 1);
    ebpf_vm_destroy(vm);
}

TEST(tail_call_without_callback_falls_through)
{
    static const struct ebpf_inst main_prog[] = {CALL_HELPER(EBPF_HELPER_TAIL_CALL), EXIT()};
    struct ebpf_vm *vm = load_or_die(main_prog, sizeof main_prog);
    uint64_t r = 0;
    CHECK_EQ(ebpf_vm_exec(vm, NULL, 0, &r), 0);
    CHECK_EQ(r, (uint64_t)-ENOENT);
    ebpf_vm_destroy(vm);
}

/* A program that tail-calls itself, counting in ctx: the kernel's limit of
 * 33 tail calls stops it, then it falls through and returns the count. */
TEST(tail_call_limit_33)
{
    struct tail_ctx c = {0};
    static const struct ebpf_inst self[] = {
        LDX(BPF_DW, 6, 1, 0),
        ALU64_IMM(BPF_ADD, 6, 1),
        STX(BPF_DW, 1, 6, 0),
        MOV64_IMM(3, 0),
        CALL_HELPER(EBPF_HELPER_TAIL_CALL),
        LDX(BPF_DW, 0, 1, 0),
        EXIT(),
    };
    struct ebpf_vm *vm = load_or_die(self, sizeof self);
    c.progs[0] = vm;
    ebpf_vm_set_tail_call(vm, tail_lookup, &c);
    uint64_t count = 0, r = 0;
    CHECK_EQ(ebpf_vm_exec(vm, &count, sizeof count, &r), 0);
    CHECK_EQ(r, 34); /* the first run plus 33 tail calls */
    CHECK_EQ(count, 34);
    ebpf_vm_destroy(vm);
}

/* Tail call from inside a bpf-to-bpf callee: the target's exit returns to
 * the callee's caller, whose r6-r9 are intact. */
TEST(tail_call_from_subprogram_returns_to_caller)
{
    struct tail_ctx c = {0};
    static const struct ebpf_inst target[] = {MOV64_IMM(0, 5), MOV64_IMM(6, 999), EXIT()};
    static const struct ebpf_inst main_prog[] = {
        MOV64_IMM(6, 100),
        CALL_LOCAL(2),
        ALU64_REG(BPF_ADD, 0, 6),
        EXIT(),
        MOV64_IMM(3, 2),
        CALL_HELPER(EBPF_HELPER_TAIL_CALL),
        EXIT(),
    };
    c.progs[2] = load_or_die(target, sizeof target);
    struct ebpf_vm *vm = load_or_die(main_prog, sizeof main_prog);
    ebpf_vm_set_tail_call(vm, tail_lookup, &c);
    uint64_t r = 0;
    CHECK_EQ(ebpf_vm_exec(vm, NULL, 0, &r), 0);
    CHECK_EQ(r, 105);
    ebpf_vm_destroy(vm);
    ebpf_vm_destroy(c.progs[2]);
}

TEST(tail_called_program_fault_reported)
{
    struct tail_ctx c = {0};
    static const struct ebpf_inst target[] = {MOV64_IMM(1, 0), LDX(BPF_W, 0, 1, 0), EXIT()};
    static const struct ebpf_inst main_prog[] = {MOV64_IMM(3, 0),
                                                 CALL_HELPER(EBPF_HELPER_TAIL_CALL), EXIT()};
    c.progs[0] = load_or_die(target, sizeof target);
    struct ebpf_vm *vm = load_or_die(main_prog, sizeof main_prog);
    ebpf_vm_set_tail_call(vm, tail_lookup, &c);
    uint64_t r = 0;
    CHECK_EQ(ebpf_vm_exec(vm, NULL, 0, &r), (uint64_t)-EFAULT);
    CHECK_STR_CONTAINS(ebpf_vm_error(vm), "at instruction 1 (of a tail-called program)");
    ebpf_vm_destroy(vm);
    ebpf_vm_destroy(c.progs[0]);
}

/* ---- compile caching (JIT present or not) ---- */
TEST(compile_twice_returns_same_entry)
{
    struct ebpf_vm *vm = case_vm();
    static const struct ebpf_inst prog[] = {MOV64_IMM(0, 77), EXIT()};
    CHECK_EQ(ebpf_vm_load(vm, prog, sizeof prog), 0);
    ebpf_jit_fn a = NULL, b = NULL;
    int rc = ebpf_vm_compile(vm, &a);
    if (rc == -ENOTSUP) {
        CHECK(ebpf_vm_jit_code(vm) == NULL);
        CHECK_STR_CONTAINS(ebpf_vm_error(vm), "JIT");
    } else {
        CHECK_EQ(rc, 0);
        CHECK_EQ(ebpf_vm_compile(vm, &b), 0);
        CHECK(a == b);
        CHECK(ebpf_vm_jit_code(vm) != NULL);
        CHECK(ebpf_vm_jit_size(vm) > 0);
        CHECK_EQ(a(NULL, 0), 77);
    }
    ebpf_vm_destroy(vm);
}

TEST(compile_without_program)
{
    struct ebpf_vm *vm = case_vm();
    ebpf_jit_fn fn;
    CHECK(ebpf_vm_compile(vm, &fn) < 0);
    ebpf_vm_destroy(vm);
}

TEST(destroy_null_is_noop)
{
    ebpf_vm_destroy(NULL);
    CHECK(ebpf_vm_error(NULL) != NULL);
}

/* ---- concurrency: one VM executed by several threads, atomics really atomic ---- */
#define THREADS 4
#define ITERS 20000

struct thread_arg {
    struct ebpf_vm *vm;
    uint64_t *counter;
    int rc;
};

static void *worker(void *p)
{
    struct thread_arg *a = p;
    for (int i = 0; i < ITERS && a->rc == 0; i++) {
        uint64_t r;
        a->rc = ebpf_vm_exec(a->vm, a->counter, 16, &r);
    }
    return NULL;
}

TEST(concurrent_exec_atomic_add)
{
    static const struct ebpf_inst prog[] = {
        MOV64_IMM(2, 1), ATOMIC(BPF_DW, BPF_ADD, 1, 2, 0),
        MOV64_IMM(2, 1), ATOMIC(BPF_W, BPF_ADD | BPF_FETCH, 1, 2, 8),
        MOV64_IMM(0, 0), EXIT(),
    };
    struct ebpf_vm *vm = load_or_die(prog, sizeof prog);
    _Alignas(8) uint64_t counter[2] = {0, 0};
    pthread_t th[THREADS];
    struct thread_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (struct thread_arg){vm, counter, 0};
        CHECK_EQ(pthread_create(&th[i], NULL, worker, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ(args[i].rc, 0);
    }
    CHECK_EQ(counter[0], THREADS * ITERS);
    CHECK_EQ((uint32_t)counter[1], THREADS * ITERS);
    ebpf_vm_destroy(vm);
}
