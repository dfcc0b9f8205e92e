/*
 * sm3.cl - SM3 (GB/T 32905-2016 / GM/T 0004-2012), the OpenCL C twin of kernels/src/sm3.
 *
 * Owns: the compression function and a batch kernel, one work-item per message.
 * Never: anything device specific. Portable OpenCL C 1.2 (uint arithmetic only).
 *
 * Batch layout (as accel's MessageBatch packs it): every message back to back in one byte
 * buffer, `ends[i]` one past the last byte of message i (so message i starts at ends[i-1], or
 * 0). Each work-item streams its own message block by block and pads it itself, so messages of
 * any length, mixed, go in one launch. Output: 32 bytes per message, big-endian words.
 */

/* 5.1 initial value IV. */
#define SM3_IV0 0x7380166fu
#define SM3_IV1 0x4914b2b9u
#define SM3_IV2 0x172442d7u
#define SM3_IV3 0xda8a0600u
#define SM3_IV4 0xa96f30bcu
#define SM3_IV5 0x163138aau
#define SM3_IV6 0xe38dee4du
#define SM3_IV7 0xb0fb0e4eu

/* 4.4 permutations P0(X) = X ^ (X <<< 9) ^ (X <<< 17), P1(X) = X ^ (X <<< 15) ^ (X <<< 23). */
inline uint sm3_p0(uint x) { return x ^ rotate(x, 9u) ^ rotate(x, 17u); }
inline uint sm3_p1(uint x) { return x ^ rotate(x, 15u) ^ rotate(x, 23u); }

inline void sm3_init(uint v[8]) {
    v[0] = SM3_IV0; v[1] = SM3_IV1; v[2] = SM3_IV2; v[3] = SM3_IV3;
    v[4] = SM3_IV4; v[5] = SM3_IV5; v[6] = SM3_IV6; v[7] = SM3_IV7;
}

/* 5.3 CF(V, B): message expansion (5.3.2) and the 64 rounds (5.3.3). `w` holds the block as
 * 16 big-endian words; it is overwritten (a rolling window of W, 16 words, so that a GPU keeps
 * it in registers). */
void sm3_compress(uint v[8], uint w[16]) {
    uint a = v[0], b = v[1], c = v[2], d = v[3], e = v[4], f = v[5], g = v[6], h = v[7];
    /* Fully unrolled, so that every index into w is a constant and w stays in registers (a
     * variable index sends a private array to memory, and POCL's lanes to gathers). */
#pragma unroll
    for (uint j = 0; j < 64; j++) {
        /* W[j+4] is needed for W'[j] = W[j] ^ W[j+4]; expand it when j + 4 >= 16:
         * W[k] = P1(W[k-16] ^ W[k-9] ^ (W[k-3] <<< 15)) ^ (W[k-13] <<< 7) ^ W[k-6]. */
        uint k = j + 4;
        if (k >= 16) {
            w[k & 15] = sm3_p1(w[k & 15] ^ w[(k - 9) & 15] ^ rotate(w[(k - 3) & 15], 15u))
                        ^ rotate(w[(k - 13) & 15], 7u) ^ w[(k - 6) & 15];
        }
        uint wj = w[j & 15];
        uint wj4 = w[k & 15];
        /* T_j = 79cc4519 for 0 <= j <= 15, 7a879d8a for 16 <= j <= 63. */
        uint tj = j < 16 ? 0x79cc4519u : 0x7a879d8au;
        uint a12 = rotate(a, 12u);
        /* SS1 = ((A <<< 12) + E + (T_j <<< (j mod 32))) <<< 7; SS2 = SS1 ^ (A <<< 12). */
        uint ss1 = rotate(a12 + e + rotate(tj, j & 31u), 7u);
        uint ss2 = ss1 ^ a12;
        /* FF_j, GG_j: XOR for j <= 15, majority / choose after. */
        uint ff = j < 16 ? (a ^ b ^ c) : ((a & b) | (a & c) | (b & c));
        uint gg = j < 16 ? (e ^ f ^ g) : ((e & f) | (~e & g));
        uint tt1 = ff + d + ss2 + (wj ^ wj4);
        uint tt2 = gg + h + ss1 + wj;
        d = c;
        c = rotate(b, 9u);
        b = a;
        a = tt1;
        h = g;
        g = rotate(f, 19u);
        f = e;
        e = sm3_p0(tt2);
    }
    v[0] ^= a; v[1] ^= b; v[2] ^= c; v[3] ^= d;
    v[4] ^= e; v[5] ^= f; v[6] ^= g; v[7] ^= h;
}

/* 16 big-endian words from 64 bytes of global memory. */
inline void sm3_load_global(__global const uchar *p, uint w[16]) {
    /* vload4 needs only byte alignment, so messages may start anywhere in the packed buffer.
     * (On POCL it measured the same as four byte loads; GPUs can fetch the four at once.) */
#pragma unroll
    for (uint i = 0; i < 16; i++) {
        uchar4 b = vload4(i, p);
        w[i] = ((uint)b.s0 << 24) | ((uint)b.s1 << 16) | ((uint)b.s2 << 8) | (uint)b.s3;
    }
}

/* Put byte `byte` at position `pos` (0..63) of a block held as big-endian words. */
inline void sm3_put_byte(uint w[16], uint pos, uint byte) {
    w[pos >> 2] |= byte << (24u - 8u * (pos & 3u));
}

/* SM3 of `len` bytes at `msg`: 5.2 padding (a 1 bit, zeros, the 64-bit bit length) done on the
 * fly over the last partial block. */
void sm3_digest_global(__global const uchar *msg, ulong len, uint v[8]) {
    uint w[16];
    sm3_init(v);
    ulong full = len & ~(ulong)63;
    for (ulong off = 0; off < full; off += 64) {
        sm3_load_global(msg + off, w);
        sm3_compress(v, w);
    }
    uint rem = (uint)(len - full);
    for (uint i = 0; i < 16; i++) w[i] = 0;
    for (uint i = 0; i < rem; i++) sm3_put_byte(w, i, msg[full + i]);
    sm3_put_byte(w, rem, 0x80u);
    if (rem >= 56) {
        sm3_compress(v, w);
        for (uint i = 0; i < 16; i++) w[i] = 0;
    }
    ulong bits = len << 3;
    w[14] = (uint)(bits >> 32);
    w[15] = (uint)bits;
    sm3_compress(v, w);
}

inline void sm3_store_global(const uint v[8], __global uchar *out) {
    for (uint i = 0; i < 8; i++) {
        out[4 * i] = (uchar)(v[i] >> 24);
        out[4 * i + 1] = (uchar)(v[i] >> 16);
        out[4 * i + 2] = (uchar)(v[i] >> 8);
        out[4 * i + 3] = (uchar)v[i];
    }
}

/* One work-item per message: digests[32*i..32*i+32] = SM3(message i). */
__kernel void sm3_digest_batch(__global const uchar *data, __global const ulong *ends, uint count,
                               __global uchar *digests) {
    uint i = (uint)get_global_id(0);
    if (i >= count) return;
    ulong start = i == 0 ? 0 : ends[i - 1];
    uint v[8];
    sm3_digest_global(data + start, ends[i] - start, v);
    sm3_store_global(v, digests + 32 * (ulong)i);
}
