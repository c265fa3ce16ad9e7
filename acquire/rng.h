/* rng.h - a small seeded random number generator for the simulator.
 *
 * xoshiro256** (Blackman & Vigna, "Scrambled linear pseudorandom number
 * generators", ACM TOMS 47(4), 2021) seeded through splitmix64 (Steele, Lea &
 * Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014), with
 * uniform, normal and Poisson variates.
 *
 * A tl_rng is a plain value (no allocation, no globals): copy it, keep one per
 * row or per thread. tl_rng_seed_stream() derives independent generators from
 * (seed, stream, index), so work split over rows draws the same numbers
 * whatever the number of threads or the order rows are processed in.
 */
#ifndef TL_RNG_H
#define TL_RNG_H

#include <stdint.h>

typedef struct tl_rng {
    uint64_t s[4];
    double spare;   /* second normal variate of the last polar draw */
    int has_spare;
} tl_rng;

/* Seed from one 64-bit value (any value, 0 included). */
void tl_rng_seed(tl_rng *rng, uint64_t seed);
/* Seed the generator number `index` of stream `stream` derived from `seed`;
 * distinct (stream, index) pairs give unrelated sequences. */
void tl_rng_seed_stream(tl_rng *rng, uint64_t seed, uint64_t stream, uint64_t index);

uint64_t tl_rng_next(tl_rng *rng);
/* Uniform in [0, 1) with 53 random bits. */
double tl_rng_uniform(tl_rng *rng);
/* Uniform integer in [0, n) without modulo bias; n > 0. */
uint64_t tl_rng_below(tl_rng *rng, uint64_t n);
/* Standard normal (mean 0, standard deviation 1). */
double tl_rng_normal(tl_rng *rng);
/* Poisson variate of the given mean (0 for mean <= 0 or NaN). Exact inversion
 * below mean 30, Hörmann's transformed rejection (PTRS) above. Returned as a
 * double holding an integer. */
double tl_rng_poisson(tl_rng *rng, double mean);

#endif
