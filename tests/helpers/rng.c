/*
 * rng.c - xorshift64* for the tests (see rng.h).
 */
#include "rng.h"

uint64_t trng_next(uint64_t *state)
{
    uint64_t x = *state;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * UINT64_C(0x2545f4914f6cdd1d);
}

double trng_unit(uint64_t *state)
{
    return (double)(trng_next(state) >> 11) / 9007199254740992.0;
}
