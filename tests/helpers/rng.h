/*
 * rng.h - the tests' own pseudo-random numbers: xorshift64* (Vigna), a
 * fixed, portable stream for a given state, independent of the hashes under
 * test. Each test keeps its state in a uint64_t (never 0) it seeds itself,
 * so a failure reproduces.
 */
#ifndef FS_TEST_RNG_H
#define FS_TEST_RNG_H

#include <stdint.h>

uint64_t trng_next(uint64_t *state);

/* Uniform in [0, 1), 53 bits. */
double trng_unit(uint64_t *state);

#endif
