/*
 * fp.cl - arithmetic in GF(p), p = 2^256 - 2^224 - 2^96 + 2^64 - 1 (GB/T 32918.5), the OpenCL C
 * twin of kernels/src/sm2/field.rs.
 *
 * Owns: fp_t, four little-endian 64-bit limbs in Montgomery form (R = 2^256), always fully
 * reduced into [0, p), and +, -, *, inversion. Never: secrets; everything here is variable time
 * (_vartime callers only).
 *
 * Limb width: four 64-bit limbs with mul_hi(ulong), 16 limb products per multiplication (10 per
 * squaring) and a reduction with no multiplication at all (below). Measured on POCL (AMD EPYC
 * Zen 4, 2 cores, AVX-512), CPU time per verification, batches of 4,096:
 *   - this file: 192-194 us;
 *   - eight 32-bit limbs (64 native 32x32 products, the same p-shaped reduction in 32-bit
 *     words, squaring as a product; written for the measurement, not kept): 617-621 us, 3.2x
 *     slower;
 *   - this file with one work-item per work-group (no vectorisation across work-items, one mulx
 *     per product): half the speed of the vectorised form (3.8k against 7.7k verifies/s, before
 *     the reduction below).
 * GPUs have no 64-bit multiplier either, and there 32-bit limbs may well win: measure on the
 * device before choosing (a 32-bit fp.cl only has to keep this file's function names and
 * fp_limb/fp_set, which convert at the buffer boundary).
 *
 * Montgomery reduction uses -p^-1 = 1 mod 2^64 (p = -1 mod 2^64): the multiplier of each
 * reduction step is the lowest limb itself.
 */

typedef struct {
    ulong l[4];
} fp_t;

/* p, little-endian limbs. */
#define FP_P0 0xFFFFFFFFFFFFFFFFUL
#define FP_P1 0xFFFFFFFF00000000UL
#define FP_P2 0xFFFFFFFFFFFFFFFFUL
#define FP_P3 0xFFFFFFFEFFFFFFFFUL

/* acc + x*y + *carry: returns the low limb, leaves the high limb in *carry (cannot overflow:
 * (2^64-1)^2 + 2(2^64-1) = 2^128 - 1). */
inline ulong fp_mac(ulong acc, ulong x, ulong y, ulong *carry) {
    ulong lo = x * y;
    ulong hi = mul_hi(x, y);
    lo += acc;
    hi += (lo < acc) ? 1UL : 0UL;
    lo += *carry;
    hi += (lo < *carry) ? 1UL : 0UL;
    *carry = hi;
    return lo;
}

/* a + b + *carry with carry out. */
inline ulong fp_adc(ulong a, ulong b, ulong *carry) {
    ulong s = a + b;
    ulong c1 = (s < a) ? 1UL : 0UL;
    ulong t = s + *carry;
    ulong c2 = (t < s) ? 1UL : 0UL;
    *carry = c1 + c2;
    return t;
}

/* a - b - *borrow with borrow out. */
inline ulong fp_sbb(ulong a, ulong b, ulong *borrow) {
    ulong d = a - b;
    ulong b1 = (a < b) ? 1UL : 0UL;
    ulong t = d - *borrow;
    ulong b2 = (d < *borrow) ? 1UL : 0UL;
    *borrow = b1 + b2;
    return t;
}

inline void fp_set(fp_t *r, ulong l0, ulong l1, ulong l2, ulong l3) {
    r->l[0] = l0; r->l[1] = l1; r->l[2] = l2; r->l[3] = l3;
}

/* Limb k (0..3, least significant first) as a 64-bit word: the layout buffers use. */
inline ulong fp_limb(const fp_t *a, int k) { return a->l[k]; }

inline int fp_is_zero(const fp_t *a) {
    return (a->l[0] | a->l[1] | a->l[2] | a->l[3]) == 0;
}

inline int fp_equal(const fp_t *a, const fp_t *b) {
    return ((a->l[0] ^ b->l[0]) | (a->l[1] ^ b->l[1]) | (a->l[2] ^ b->l[2]) | (a->l[3] ^ b->l[3])) == 0;
}

/* r = (t0..t3 + 2^256 * hi) mod p, for values below 2p. */
inline void fp_reduce_once(fp_t *r, ulong t0, ulong t1, ulong t2, ulong t3, ulong hi) {
    ulong b = 0;
    ulong d0 = fp_sbb(t0, FP_P0, &b);
    ulong d1 = fp_sbb(t1, FP_P1, &b);
    ulong d2 = fp_sbb(t2, FP_P2, &b);
    ulong d3 = fp_sbb(t3, FP_P3, &b);
    if (hi != 0 || b == 0) {
        fp_set(r, d0, d1, d2, d3);
    } else {
        fp_set(r, t0, t1, t2, t3);
    }
}

inline void fp_add(fp_t *r, const fp_t *a, const fp_t *b) {
    ulong c = 0;
    ulong t0 = fp_adc(a->l[0], b->l[0], &c);
    ulong t1 = fp_adc(a->l[1], b->l[1], &c);
    ulong t2 = fp_adc(a->l[2], b->l[2], &c);
    ulong t3 = fp_adc(a->l[3], b->l[3], &c);
    fp_reduce_once(r, t0, t1, t2, t3, c);
}

inline void fp_sub(fp_t *r, const fp_t *a, const fp_t *b) {
    ulong br = 0;
    ulong t0 = fp_sbb(a->l[0], b->l[0], &br);
    ulong t1 = fp_sbb(a->l[1], b->l[1], &br);
    ulong t2 = fp_sbb(a->l[2], b->l[2], &br);
    ulong t3 = fp_sbb(a->l[3], b->l[3], &br);
    if (br != 0) {
        ulong c = 0;
        t0 = fp_adc(t0, FP_P0, &c);
        t1 = fp_adc(t1, FP_P1, &c);
        t2 = fp_adc(t2, FP_P2, &c);
        t3 = fp_adc(t3, FP_P3, &c);
    }
    fp_set(r, t0, t1, t2, t3);
}

inline void fp_double(fp_t *r, const fp_t *a) { fp_add(r, a, a); }

/* r = a * b / R mod p (CIOS Montgomery product, 16 multiplications). Each reduction step adds
 * m * p with m = t0 (since -p^-1 = 1 mod 2^64) and drops the zero low limb. With the shape of p,
 * (t + m p) / 2^64 = (t >> 64) + m * (2^192 - 2^160 - 2^32 + 1): shifts and subtractions, no
 * multiplication. */
/* What one Montgomery step adds above the limb it clears:
 * v = m * (2^192 - 2^160 - 2^32 + 1) = [m, 0, 0, m] - [m << 32, m >> 32, m << 32, m >> 32],
 * non-negative and below 2^256 (p = -1 mod 2^64, so the step's multiplier is the limb itself). */
inline void fp_reduction_term(ulong m, ulong *v0, ulong *v1, ulong *v2, ulong *v3) {
    ulong lo = m << 32, hi = m >> 32;
    ulong br = 0;
    *v0 = fp_sbb(m, lo, &br);
    *v1 = fp_sbb(0, hi, &br);
    *v2 = fp_sbb(0, lo, &br);
    *v3 = fp_sbb(m, hi, &br);
}

void fp_mul(fp_t *r, const fp_t *a, const fp_t *b) {
    ulong t0 = 0, t1 = 0, t2 = 0, t3 = 0, t4 = 0;
    for (int i = 0; i < 4; i++) {
        ulong ai = a->l[i];
        ulong c = 0;
        t0 = fp_mac(t0, ai, b->l[0], &c);
        t1 = fp_mac(t1, ai, b->l[1], &c);
        t2 = fp_mac(t2, ai, b->l[2], &c);
        t3 = fp_mac(t3, ai, b->l[3], &c);
        ulong t5 = 0;
        t4 = fp_adc(t4, c, &t5);
        /* v = m * (2^192 - 2^160 - 2^32 + 1) = [m, 0, 0, m] - [m << 32, m >> 32, m << 32, m >> 32],
         * non-negative, below 2^256. */
        ulong v0, v1, v2, v3;
        fp_reduction_term(t0, &v0, &v1, &v2, &v3);
        c = 0;
        t0 = fp_adc(t1, v0, &c);
        t1 = fp_adc(t2, v1, &c);
        t2 = fp_adc(t3, v2, &c);
        t3 = fp_adc(t4, v3, &c);
        t4 = t5 + c;
    }
    fp_reduce_once(r, t0, t1, t2, t3, t4);
}

/* r = a^2 / R mod p: the 512-bit square with 10 multiplications (6 cross products, doubled,
 * and 4 squares), then four reduction steps of the same shape as in fp_mul. */
void fp_sqr(fp_t *r, const fp_t *a) {
    ulong a0 = a->l[0], a1 = a->l[1], a2 = a->l[2], a3 = a->l[3];
    ulong t[9];
    ulong c = 0;
    t[1] = fp_mac(0, a0, a1, &c);
    t[2] = fp_mac(0, a0, a2, &c);
    t[3] = fp_mac(0, a0, a3, &c);
    t[4] = c;
    c = 0;
    t[3] = fp_mac(t[3], a1, a2, &c);
    t[4] = fp_mac(t[4], a1, a3, &c);
    t[5] = c;
    c = 0;
    t[5] = fp_mac(t[5], a2, a3, &c);
    t[6] = c;
    /* Double the cross products. */
    t[7] = t[6] >> 63;
    t[6] = (t[6] << 1) | (t[5] >> 63);
    t[5] = (t[5] << 1) | (t[4] >> 63);
    t[4] = (t[4] << 1) | (t[3] >> 63);
    t[3] = (t[3] << 1) | (t[2] >> 63);
    t[2] = (t[2] << 1) | (t[1] >> 63);
    t[1] = t[1] << 1;
    /* Add the squares a_i^2 at limb 2i. */
    ulong cc = 0;
    c = 0;
    t[0] = fp_mac(0, a0, a0, &c);
    t[1] = fp_adc(t[1], c, &cc);
    c = 0;
    ulong lo = fp_mac(0, a1, a1, &c);
    t[2] = fp_adc(t[2], lo, &cc);
    t[3] = fp_adc(t[3], c, &cc);
    c = 0;
    lo = fp_mac(0, a2, a2, &c);
    t[4] = fp_adc(t[4], lo, &cc);
    t[5] = fp_adc(t[5], c, &cc);
    c = 0;
    lo = fp_mac(0, a3, a3, &c);
    t[6] = fp_adc(t[6], lo, &cc);
    t[7] = fp_adc(t[7], c, &cc);
    t[8] = 0;
    /* Montgomery reduction, m = t[i]: t += m p 2^(64 i), i.e. t[i+1..i+5) += v(m) with
     * v(m) = m (2^192 - 2^160 - 2^32 + 1), the carry running up to t[8]. */
    for (int i = 0; i < 4; i++) {
        ulong v0, v1, v2, v3;
        fp_reduction_term(t[i], &v0, &v1, &v2, &v3);
        c = 0;
        t[i + 1] = fp_adc(t[i + 1], v0, &c);
        t[i + 2] = fp_adc(t[i + 2], v1, &c);
        t[i + 3] = fp_adc(t[i + 3], v2, &c);
        t[i + 4] = fp_adc(t[i + 4], v3, &c);
        for (int k = i + 5; k < 9; k++) t[k] = fp_adc(t[k], 0, &c);
    }
    fp_reduce_once(r, t[4], t[5], t[6], t[7], t[8]);
}

/* Into Montgomery form: a * R^2 / R. */
inline void fp_to_mont(fp_t *r, const fp_t *a) {
    fp_t r2;
    fp_set(&r2, 0x0000000200000003UL, 0x00000002FFFFFFFFUL, 0x0000000100000001UL, 0x0000000400000002UL);
    fp_mul(r, a, &r2);
}

/* R mod p: 1 in Montgomery form. */
inline void fp_one(fp_t *r) {
    fp_set(r, 0x0000000000000001UL, 0x00000000FFFFFFFFUL, 0x0000000000000000UL, 0x0000000100000000UL);
}

/* a^(p-2) = a^-1 (Fermat), square-and-multiply over the public exponent (variable time in the
 * exponent only, which is a constant). a = 0 gives 0. */
void fp_invert_vartime(fp_t *r, const fp_t *a) {
    /* p - 2, most significant limb first. */
    const ulong e[4] = {0xFFFFFFFEFFFFFFFFUL, 0xFFFFFFFFFFFFFFFFUL, 0xFFFFFFFF00000000UL, 0xFFFFFFFFFFFFFFFDUL};
    fp_t acc;
    fp_one(&acc);
    for (int i = 0; i < 4; i++) {
        for (int bit = 63; bit >= 0; bit--) {
            fp_sqr(&acc, &acc);
            if ((e[i] >> bit) & 1UL) fp_mul(&acc, &acc, a);
        }
    }
    *r = acc;
}
