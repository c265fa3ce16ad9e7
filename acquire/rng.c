/* rng.c - xoshiro256** seeded by splitmix64; uniform, normal, Poisson variates.
 *
 * Everything here is a pure function of the generator state, so results are
 * the same on every platform with IEEE doubles and a correctly rounded libm
 * (log, exp, sqrt); nothing touches global state (no lgamma, whose signgam is
 * a global).
 */
#include "rng.h"

#include <math.h>

/* splitmix64 (Steele, Lea & Flood 2014): a 64-bit finaliser over a Weyl
 * sequence; recommended by Blackman & Vigna for filling xoshiro's state. */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void tl_rng_seed(tl_rng *rng, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&x);
    /* splitmix64 never yields four zero words in a row, but be explicit: the
     * all-zero state is xoshiro's only fixed point */
    if ((rng->s[0] | rng->s[1] | rng->s[2] | rng->s[3]) == 0)
        rng->s[0] = 1;
    rng->spare = 0.0;
    rng->has_spare = 0;
}

void tl_rng_seed_stream(tl_rng *rng, uint64_t seed, uint64_t stream, uint64_t index)
{
    /* Hash the three words one after the other through the splitmix64
     * finaliser. Each step is a bijection of the word mixed in (odd multiplier,
     * xor, finaliser), so for one seed and stream distinct indices give
     * distinct 64-bit seeds; across streams they are unrelated hash values. */
    uint64_t x = seed;
    uint64_t h = splitmix64(&x);
    x = h ^ (stream * 0xD1B54A32D192ED03ull);
    h = splitmix64(&x);
    x = h ^ (index * 0x8CB92BA72F3D8DD7ull);
    h = splitmix64(&x);
    tl_rng_seed(rng, h);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t tl_rng_next(tl_rng *rng)
{
    uint64_t *s = rng->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double tl_rng_uniform(tl_rng *rng) { return (double)(tl_rng_next(rng) >> 11) * 0x1.0p-53; }

uint64_t tl_rng_below(tl_rng *rng, uint64_t n)
{
    if (n <= 1)
        return 0;
    /* reject the top partial block of 2^64 so every residue is equally likely */
    uint64_t limit = UINT64_MAX - (UINT64_MAX % n);
    uint64_t x;
    do {
        x = tl_rng_next(rng);
    } while (x >= limit);
    return x % n;
}

double tl_rng_normal(tl_rng *rng)
{
    /* Marsaglia's polar method: two normals per accepted pair, the second kept. */
    if (rng->has_spare) {
        rng->has_spare = 0;
        return rng->spare;
    }
    double u, v, q;
    do {
        u = 2.0 * tl_rng_uniform(rng) - 1.0;
        v = 2.0 * tl_rng_uniform(rng) - 1.0;
        q = u * u + v * v;
    } while (q >= 1.0 || q == 0.0);
    double f = sqrt(-2.0 * log(q) / q);
    rng->spare = v * f;
    rng->has_spare = 1;
    return u * f;
}

/* log(k!) : exact sum for small k, Stirling's series beyond (absolute error
 * below 1e-14 for k >= 16). */
static double log_factorial(double k)
{
    if (k < 16.0) {
        double s = 0.0;
        for (double i = 2.0; i <= k; i += 1.0)
            s += log(i);
        return s;
    }
    const double half_log_2pi = 0.91893853320467274178;
    double k2 = k * k;
    return (k + 0.5) * log(k) - k + half_log_2pi +
           (1.0 / 12.0 - (1.0 / 360.0 - 1.0 / (1260.0 * k2)) / k2) / k;
}

/* Sequential-search inversion: one uniform, walk the cumulative distribution.
 * exp(-mean) stays far above underflow for mean < 30. */
static double poisson_inversion(tl_rng *rng, double mean)
{
    double u = tl_rng_uniform(rng);
    double p = exp(-mean);
    double cdf = p;
    double k = 0.0;
    while (u > cdf) {
        k += 1.0;
        p *= mean / k;
        cdf += p;
        /* rounding can leave the sum a hair below 1; past the point where the
         * terms vanish the remaining mass is nil, so stop there */
        if (p < 1e-300 || k > 1000.0)
            break;
    }
    return k;
}

/* PTRS, "Poisson transformed rejection with squeeze": W. Hörmann, "The
 * transformed rejection method for generating Poisson random variables",
 * Insurance: Mathematics and Economics 12 (1993) 39-45. A uniform U is mapped
 * through the inverse of a hat (a / (0.5 - |U|)^2 + b, shifted to the mode)
 * that dominates the Poisson probabilities; a squeeze accepts about 89% of
 * draws without logarithms, the rest are accepted by comparing with the exact
 * log probability. The constants are the paper's, valid for mean >= 10. */
static double poisson_ptrs(tl_rng *rng, double mean)
{
    const double smu = sqrt(mean);
    const double b = 0.931 + 2.53 * smu;
    const double a = -0.059 + 0.02483 * b;
    const double inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
    const double v_r = 0.9277 - 3.6224 / (b - 2.0);
    const double log_mean = log(mean);
    for (;;) {
        double u = tl_rng_uniform(rng) - 0.5;
        double v = tl_rng_uniform(rng);
        double us = 0.5 - fabs(u);
        if (us <= 0.0)
            continue; /* u = -0.5 exactly: the hat's pole */
        double k = floor((2.0 * a / us + b) * u + mean + 0.43);
        if (us >= 0.07 && v <= v_r)
            return k;
        if (k < 0.0 || (us < 0.013 && v > us))
            continue;
        if (log(v) + log(inv_alpha) - log(a / (us * us) + b) <=
            -mean + k * log_mean - log_factorial(k))
            return k;
    }
}

double tl_rng_poisson(tl_rng *rng, double mean)
{
    if (!(mean > 0.0))
        return 0.0;
    if (mean < 30.0)
        return poisson_inversion(rng, mean);
    return poisson_ptrs(rng, mean);
}
