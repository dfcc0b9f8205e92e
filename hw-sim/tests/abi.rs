//! The card against a bare host written from ABI.md alone (no accel driver): bring-up values,
//! the ring protocol, resets, and refusals of what a misbehaving host writes. The card must
//! answer every descriptor with a status, never panic, never touch bytes outside the DMA area.

#![allow(clippy::unwrap_used, reason = "tests: a failed unwrap is a failed test")]

use std::time::{Duration, Instant};

use xinlian_hw_sim::abi::{self, Bar, Completion, Descriptor};
use xinlian_hw_sim::{Card, CardConfig, CardHandle, Profile};
use xinlian_kernels::sm3;

/// A bare host: the BAR and where things are.
struct Host {
    bar: Bar,
    sq: usize,
    cq: usize,
    dma: usize,
    depth: u64,
    sq_tail: u64,
    cq_head: u64,
}

impl Host {
    fn attach(card: &CardHandle) -> Host {
        let bar = Bar::open(card.path()).unwrap();
        assert_eq!(bar.read32(abi::REG_MAGIC), abi::MAGIC);
        let mut host = Host {
            sq: bar.read32(abi::REG_SQ_OFFSET) as usize,
            cq: bar.read32(abi::REG_CQ_OFFSET) as usize,
            dma: bar.read32(abi::REG_DMA_OFFSET) as usize,
            depth: u64::from(bar.read32(abi::REG_QUEUE_DEPTH)),
            bar,
            sq_tail: 0,
            cq_head: 0,
        };
        host.reset();
        host
    }

    fn reset(&mut self) {
        let epoch = self.bar.read32(abi::REG_EPOCH);
        self.bar.write32(abi::REG_RESET, abi::RESET_REQUEST);
        let t = Instant::now();
        while self.bar.read32(abi::REG_RESET) != 0 || self.bar.read32(abi::REG_EPOCH) == epoch {
            assert!(t.elapsed() < Duration::from_secs(5), "no reset");
            std::thread::sleep(Duration::from_micros(100));
        }
        self.sq_tail = 0;
        self.cq_head = 0;
        self.bar.write64(abi::REG_SQ_TAIL, 0);
        self.bar.write64(abi::REG_CQ_HEAD, 0);
        self.bar.write32(abi::REG_QUEUE_ENABLE, 1);
    }

    fn submit(&mut self, mut d: Descriptor, input: &[u8]) {
        self.bar.write_bytes(self.dma + usize::try_from(d.in_offset).unwrap_or(0), input);
        if d.seq == u64::MAX {
            d.seq = self.sq_tail;
        }
        let slot = usize::try_from(self.sq_tail % self.depth).unwrap();
        self.bar.write_descriptor(self.sq, slot, &d);
        self.sq_tail += 1;
        self.bar.write64(abi::REG_SQ_TAIL, self.sq_tail);
    }

    fn next_completion(&mut self, within: Duration) -> Option<Completion> {
        let t = Instant::now();
        while self.bar.read64(abi::REG_CQ_TAIL) == self.cq_head {
            if t.elapsed() > within {
                return None;
            }
            std::thread::sleep(Duration::from_micros(50));
        }
        let slot = usize::try_from(self.cq_head % self.depth).unwrap();
        let c = self.bar.read_completion(self.cq, slot);
        assert_eq!(c.seq, self.cq_head, "completion sequence numbers follow the ring");
        self.cq_head += 1;
        self.bar.write64(abi::REG_CQ_HEAD, self.cq_head);
        Some(c)
    }

    fn read(&self, at: u64, len: usize) -> Vec<u8> {
        let mut out = vec![0u8; len];
        assert!(self.bar.read_bytes(self.dma + usize::try_from(at).unwrap(), &mut out));
        out
    }
}

fn card() -> CardHandle {
    Card::spawn(CardConfig::new(Profile::built_in("fpga-1m").unwrap())).unwrap()
}

fn sm3_descriptor(tag: u64, msg_len: usize) -> (Descriptor, Vec<u8>) {
    let mut input = vec![0u8; 8];
    input[..4].copy_from_slice(&u32::try_from(msg_len).unwrap().to_le_bytes());
    input.extend(std::iter::repeat_n(b'a', msg_len));
    let d = Descriptor {
        opcode: abi::OP_SM3_BATCH,
        item_count: 1,
        tag,
        in_offset: 0,
        in_len: input.len() as u64,
        out_offset: 4096,
        out_len: 32,
        seq: u64::MAX,
        ..Descriptor::default()
    };
    (d, input)
}

#[test]
fn bring_up_registers_say_what_the_datasheet_says() {
    let card = card();
    let bar = Bar::open(card.path()).unwrap();
    assert_eq!(bar.read32(abi::REG_VERSION), abi::ABI_VERSION);
    assert_eq!(abi::MAGIC.to_le_bytes(), *b"XLCD");
    assert_eq!(bar.read32(abi::REG_QUEUE_DEPTH), 256);
    assert_eq!(bar.read32(abi::REG_SM2_ENGINES), 16);
    assert_eq!(bar.profile_name(), "fpga-1m");
    let layout = Profile::built_in("fpga-1m").unwrap().layout().unwrap();
    assert_eq!(bar.read32(abi::REG_DMA_OFFSET) as usize, layout.dma_offset);
    assert_eq!(bar.len(), layout.bar_size);
    assert_eq!(bar.read32(abi::REG_STATUS) & abi::STATUS_READY, abi::STATUS_READY);
    let beat = bar.read64(abi::REG_HEARTBEAT);
    std::thread::sleep(Duration::from_millis(20));
    assert_ne!(bar.read64(abi::REG_HEARTBEAT), beat, "the heartbeat moves");
}

#[test]
fn the_ring_protocol_computes_and_wraps() {
    let card = card();
    let mut host = Host::attach(&card);
    // More descriptors than the ring has slots: the sequence numbers wrap the slots.
    for i in 0..600u64 {
        let (d, input) = sm3_descriptor(1000 + i, usize::try_from(i % 130).unwrap());
        host.submit(d, &input);
        let c = host.next_completion(Duration::from_secs(5)).unwrap();
        assert_eq!((c.tag, c.status, c.items_done), (1000 + i, abi::CS_OK, 1));
        let want = sm3::digest(&vec![b'a'; usize::try_from(i % 130).unwrap()]);
        assert_eq!(host.read(4096, 32), want);
    }
    assert_eq!(card.counters().descriptors, 600);
}

#[test]
fn a_misbehaving_host_gets_statuses_not_a_crash() {
    let card = card();
    let mut host = Host::attach(&card);
    let dma_size = u64::from(host.bar.read32(abi::REG_DMA_SIZE));
    let (good, input) = sm3_descriptor(1, 3);
    let cases = [
        (Descriptor { opcode: 99, ..good }, abi::CS_BAD_OPCODE),
        (Descriptor { in_offset: dma_size - 4, ..good }, abi::CS_BAD_RANGE),
        (Descriptor { out_offset: u64::MAX - 8, ..good }, abi::CS_BAD_RANGE),
        (Descriptor { out_len: 31, ..good }, abi::CS_BAD_RANGE),
        (Descriptor { item_count: 2, out_len: 64, ..good }, abi::CS_BAD_INPUT),
        (Descriptor { seq: 12345, ..good }, abi::CS_BAD_SEQUENCE),
        (Descriptor { opcode: abi::OP_SM2_VERIFY_BATCH, out_len: 1, ..good }, abi::CS_BAD_RANGE),
    ];
    for (i, (d, status)) in cases.iter().enumerate() {
        host.submit(Descriptor { tag: i as u64, ..*d }, &input);
        let c = host.next_completion(Duration::from_secs(5)).unwrap();
        assert_eq!((c.tag, c.status), (i as u64, *status), "case {i}: {d:?}");
    }
    assert_eq!(card.counters().refused, cases.len() as u64);
    // An SM2 item whose key is not on the curve gets the bad-key result byte.
    let d = Descriptor {
        opcode: abi::OP_SM2_VERIFY_BATCH,
        item_count: 1,
        tag: 77,
        in_len: 160,
        out_offset: 4096,
        out_len: 1,
        seq: u64::MAX,
        ..Descriptor::default()
    };
    host.submit(d, &[0x11; 160]);
    let c = host.next_completion(Duration::from_secs(5)).unwrap();
    assert_eq!((c.tag, c.status), (77, abi::CS_OK));
    assert_eq!(host.read(4096, 1), [abi::SM2_BAD_KEY]);
}

#[test]
fn a_reset_moves_the_epoch_and_disables_the_queues_until_enabled() {
    let card = card();
    let mut host = Host::attach(&card);
    let epoch = host.bar.read32(abi::REG_EPOCH);
    host.reset();
    assert_eq!(host.bar.read32(abi::REG_EPOCH), epoch.wrapping_add(1));
    // Disable by a reset the host does not follow with an enable: doorbells are ignored.
    host.bar.write32(abi::REG_RESET, abi::RESET_REQUEST);
    while host.bar.read32(abi::REG_RESET) != 0 {
        std::thread::sleep(Duration::from_micros(100));
    }
    host.sq_tail = 0;
    host.cq_head = 0;
    host.bar.write64(abi::REG_SQ_TAIL, 0);
    host.bar.write64(abi::REG_CQ_HEAD, 0);
    let (d, input) = sm3_descriptor(5, 10);
    host.submit(d, &input);
    assert!(host.next_completion(Duration::from_millis(50)).is_none(), "fetched while disabled");
    assert_eq!(host.bar.read32(abi::REG_STATUS) & abi::STATUS_ENABLED, 0);
    // Enabling picks up the descriptor already rung.
    host.bar.write32(abi::REG_QUEUE_ENABLE, 1);
    let c = host.next_completion(Duration::from_secs(5)).unwrap();
    assert_eq!((c.tag, c.status), (5, abi::CS_OK));
    assert!(card.counters().resets >= 3);
}

#[test]
fn shutdown_halts_and_removes_the_bar_file() {
    let card = card();
    let path = card.path().to_path_buf();
    let bar = Bar::open(&path).unwrap();
    card.shutdown();
    assert_eq!(bar.read32(abi::REG_STATUS), abi::STATUS_HALTED);
    assert!(!path.exists());
}
