//! The card driver's reading of a completion-ring entry: four words the card writes
//! (`hw_sim::abi::Completion::from_words`), judged by `accel`'s `judge_completion` against the
//! descriptor it answers. A card (or a bug in one) can write any words there.
//!
//! Input: 32 bytes of words (little-endian, as the ring holds them), then the descriptor's
//! item count (u32) and output length (u16), then the output bytes read from its window.
//! Checked: the words round trip; the driver takes the output exactly when the card says
//! `CS_OK` for every item with the expected length, and otherwise names what the card said.

use xinlian_accel::backends::card::driver::judge_completion;
use xinlian_accel::AccelError;
use xinlian_hw_sim::abi::{self, Completion};

const HEADER: usize = 32 + 4 + 2;

/// One input.
pub fn run(data: &[u8]) {
    let Some((head, out)) = data.split_at_checked(HEADER) else {
        return;
    };
    let mut words = [0u64; 4];
    for (w, chunk) in words.iter_mut().zip(head[..32].chunks_exact(8)) {
        *w = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
    }
    let items = u32::from_le_bytes(head[32..36].try_into().expect("4 bytes"));
    let out_len = usize::from(u16::from_le_bytes(head[36..38].try_into().expect("2 bytes")));
    let c = Completion::from_words(&words);
    assert_eq!(c.to_words(), words, "completion words do not round trip");
    let complete = c.status == abi::CS_OK && c.items_done == items && out.len() == out_len;
    match judge_completion(items, out_len, &c, out.to_vec()) {
        Ok(taken) => {
            assert!(complete, "the driver took an incomplete or failed completion: {c:?}");
            assert_eq!(taken, out, "the driver changed the output");
        }
        Err(AccelError::Corrupt(why)) => {
            assert!(!complete, "the driver refused a complete completion: {why}");
            let named = why.contains(&c.status.to_string())
                || why.contains(&format!("{:#010x}", c.status))
                || why.contains(&format!("completed {} of {items}", c.items_done));
            assert!(named, "the error does not name the card's status or count: {why}");
        }
        Err(other) => panic!("a completion judged as {other:?}, not Corrupt"),
    }
}
