//! How a batch is cut into chunks that alternate over the two lanes.
//!
//! Owns: the chunk sizes (by item count for every kind of work, and by bytes for SM3), and the
//! one check that an SM3 message fits the device's largest allocation. Never: buffers or
//! commands (`super`'s).

use crate::backend::AccelError;

/// A batch is cut into chunks of at least this many items (at most [`MAX_CHUNKS`] of them),
/// alternating over the two lanes, so that uploads overlap kernels without drowning in launches.
const MIN_CHUNK_ITEMS: usize = 2048;
/// Chunks a batch is cut into at most (before the per-chunk size cap).
const MAX_CHUNKS: usize = 4;
/// Largest chunk, in items (keeps the work size in `uint` and buffers modest).
const MAX_CHUNK_ITEMS: usize = 1 << 16;
/// Largest SM3 chunk of several messages, in message bytes (one longer message goes alone).
pub(crate) const MAX_CHUNK_BYTES: usize = 32 << 20;

/// The chunks a batch of `n` items is cut into, as (start, end) pairs.
pub(crate) fn chunk_ranges(n: usize) -> Vec<(usize, usize)> {
    let chunks = (n / MIN_CHUNK_ITEMS).clamp(1, MAX_CHUNKS);
    let per = n.div_ceil(chunks).clamp(1, MAX_CHUNK_ITEMS);
    (0..n).step_by(per).map(|s| (s, (s + per).min(n))).collect()
}

/// The chunks of an SM3 batch whose message `i` ends at byte `ends[i]`: [`chunk_ranges`] cut
/// further so that no chunk of several messages holds more than `max_chunk_bytes` (a longer
/// message goes alone). A message longer than `max_alloc`, the device's largest allocation,
/// can never be uploaded: [`AccelError::MessageTooLarge`], before anything is allocated (an
/// allocation the device refuses would read as a lost device).
pub(crate) fn sm3_ranges(
    ends: &[usize],
    max_chunk_bytes: usize,
    max_alloc: usize,
) -> Result<Vec<(usize, usize)>, AccelError> {
    let start_of = |i: usize| if i == 0 { 0 } else { ends[i - 1] };
    if let Some(i) = (0..ends.len()).find(|&i| ends[i] - start_of(i) > max_alloc) {
        return Err(AccelError::MessageTooLarge { bytes: ends[i] - start_of(i), max: max_alloc });
    }
    let max_chunk_bytes = max_chunk_bytes.min(max_alloc);
    let mut ranges = Vec::new();
    for (start, end) in chunk_ranges(ends.len()) {
        let mut s = start;
        while s < end {
            let base = start_of(s);
            let mut e = s + 1;
            while e < end && ends[e] - base <= max_chunk_bytes {
                e += 1;
            }
            ranges.push((s, e));
            s = e;
        }
    }
    Ok(ranges)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ends of messages of these lengths.
    fn ends(lengths: &[usize]) -> Vec<usize> {
        lengths
            .iter()
            .scan(0, |end, len| {
                *end += len;
                Some(*end)
            })
            .collect()
    }

    #[test]
    fn chunks_cover_every_item_once_in_order() {
        for n in [0usize, 1, 2047, 2048, 4096, 10_000, 1 << 18] {
            let ranges = chunk_ranges(n);
            assert_eq!(ranges.iter().map(|(s, e)| e - s).sum::<usize>(), n, "{n}");
            assert!(ranges.windows(2).all(|w| w[0].1 == w[1].0), "{n}: {ranges:?}");
            assert!(ranges.iter().all(|(s, e)| e - s <= MAX_CHUNK_ITEMS), "{n}");
        }
    }

    #[test]
    fn sm3_chunks_respect_the_byte_limit_and_a_long_message_goes_alone() {
        let ends = ends(&[10, 10, 10, 50, 10, 10]);
        assert_eq!(sm3_ranges(&ends, 25, 100), Ok(vec![(0, 2), (2, 3), (3, 4), (4, 6)]));
        // The device's largest allocation bounds a chunk too.
        assert_eq!(sm3_ranges(&ends, 1000, 20), Err(AccelError::MessageTooLarge { bytes: 50, max: 20 }));
        assert_eq!(sm3_ranges(&ends[..3], 1000, 20), Ok(vec![(0, 2), (2, 3)]));
    }

    /// A message longer than the device can allocate is refused as too large (work the caller
    /// sends elsewhere), not attempted and reported as a lost device.
    #[test]
    fn a_message_above_the_largest_allocation_is_too_large_not_a_fault() {
        let err = sm3_ranges(&ends(&[5, 4097, 5]), MAX_CHUNK_BYTES, 4096).unwrap_err();
        assert_eq!(err, AccelError::MessageTooLarge { bytes: 4097, max: 4096 });
        assert!(!err.is_device_fault());
    }
}
