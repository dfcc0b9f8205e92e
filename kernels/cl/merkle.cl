/*
 * merkle.cl - one level of the SM3 Merkle tree, exactly kernels/src/merkle.rs:
 *
 *   leaf  = SM3(0x00 || data)        (hashed on the host side, or with sm3_digest_batch)
 *   inner = SM3(0x01 || left || right)
 *   a level of odd length carries its last node up unchanged (no duplication)
 *
 * Owns: the parent-level kernel. Never: the leaf hash or the loop over levels (the host runs
 * one launch per level). Needs sm3.cl before it.
 */

/* Work-item i < count/2 hashes nodes 2i and 2i+1; for an odd count, work-item count/2 copies
 * the last node. Launch ceil(count / 2) work-items. */
__kernel void merkle_parent_level(__global const uchar *nodes, uint count, __global uchar *parents) {
    uint i = (uint)get_global_id(0);
    uint pairs = count / 2;
    if (i < pairs) {
        /* 65 bytes: 0x01 || left (32) || right (32); two blocks after padding. */
        __global const uchar *pair = nodes + 64 * (ulong)i;
        uint w[16];
        uint v[8];
        sm3_init(v);
        for (uint k = 0; k < 16; k++) w[k] = 0;
        sm3_put_byte(w, 0, 0x01u);
        for (uint k = 0; k < 63; k++) sm3_put_byte(w, k + 1, pair[k]);
        sm3_compress(v, w);
        for (uint k = 0; k < 16; k++) w[k] = 0;
        sm3_put_byte(w, 0, pair[63]);
        sm3_put_byte(w, 1, 0x80u);
        w[15] = 65u * 8u;
        sm3_compress(v, w);
        sm3_store_global(v, parents + 32 * (ulong)i);
    } else if (i == pairs && (count & 1u)) {
        __global const uchar *last = nodes + 32 * (ulong)(count - 1);
        for (uint k = 0; k < 32; k++) parents[32 * (ulong)i + k] = last[k];
    }
}
