/* A small state machine: a tokenizer over the buffer as text. States:
 * between tokens, in a word of letters, in a number, in a run of other
 * bytes; it counts the tokens of each kind and sums their lengths, the way
 * a program classifying a payload would. */
#include "bench_prog.h"

enum { TOK_SPACE, TOK_WORD, TOK_NUMBER, TOK_OTHER };

PROG(tokenize)
{
    int state = TOK_SPACE;
    u64 words = 0, numbers = 0, others = 0, toklen = 0, longest = 0;
    for (u64 i = 0; i < len; i++) {
        u8 c = mem[i];
        int cls;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
            cls = TOK_WORD;
        else if (c >= '0' && c <= '9')
            cls = TOK_NUMBER;
        else if (c == ' ' || c == '\n' || c == '\t' || c < 16)
            cls = TOK_SPACE;
        else
            cls = TOK_OTHER;
        switch (state) {
        case TOK_SPACE:
            if (cls != TOK_SPACE)
                toklen = 1;
            state = cls;
            break;
        case TOK_WORD:
            if (cls == TOK_WORD || cls == TOK_NUMBER) { /* identifiers may hold digits */
                toklen++;
                break;
            }
            words++;
            longest = toklen > longest ? toklen : longest;
            toklen = 1;
            state = cls;
            break;
        case TOK_NUMBER:
        case TOK_OTHER:
            if (cls == state) {
                toklen++;
                break;
            }
            if (state == TOK_NUMBER)
                numbers++;
            else
                others++;
            toklen = 1;
            state = cls;
            break;
        }
    }
    return (words << 48) ^ (numbers << 32) ^ (others << 16) ^ longest;
}
