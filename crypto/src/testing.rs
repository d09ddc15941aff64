//! Deterministic randomness for test vectors, property tests and benchmarks.
//!
//! **Never use this outside tests**: its output is predictable by design. Production code
//! passes [`crate::os_rng`].

use core::convert::Infallible;

/// SHA-256 in counter mode over a seed: `block_i = SHA-256("vouchsafe/test-rng\0" ‖ seed ‖ i)`.
#[derive(Debug, Clone)]
pub struct DeterministicRng {
    seed: [u8; 32],
    counter: u64,
    buf: [u8; 32],
    pos: usize,
}

impl DeterministicRng {
    /// A generator for a small integer seed.
    pub fn new(seed: u64) -> Self {
        let mut s = [0u8; 32];
        s[..8].copy_from_slice(&seed.to_be_bytes());
        Self::from_seed(s)
    }
    /// A generator for a 32-byte seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self { seed, counter: 0, buf: [0; 32], pos: 32 }
    }
    fn refill(&mut self) {
        self.buf = crate::sha256(&[b"vouchsafe/test-rng\0", &self.seed, &self.counter.to_be_bytes()]);
        self.counter = self.counter.wrapping_add(1);
        self.pos = 0;
    }
}

impl rand_core::TryRng for DeterministicRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for d in dst.iter_mut() {
            if self.pos == 32 {
                self.refill();
            }
            *d = self.buf[self.pos];
            self.pos += 1;
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for DeterministicRng {}
