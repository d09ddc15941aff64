//! Encrypted files: a streaming, chunked authenticated encryption (the STREAM construction), so
//! a file of any size is encrypted and decrypted in constant memory and truncation, reordering
//! and splicing are detected.
//!
//! ```text
//! header   = 0x01 ‖ u32 chunk_size ‖ nonce_prefix[16]                           (21 bytes)
//! chunk i  = XChaCha20-Poly1305(file_key, nonce = nonce_prefix ‖ u64 i, plaintext_i, aad_i)
//! aad_i    = "vouchsafe/v1/file-chunk\0" ‖ str(account) ‖ str(container) ‖ str(file_id)
//!            ‖ u32 chunk_size ‖ u64 i ‖ u8 final                                 (final: 1 on the last chunk)
//! stream   = header ‖ chunk 0 ‖ chunk 1 ‖ … ‖ chunk n-1
//! ```
//!
//! Every chunk but the last holds exactly `chunk_size` bytes of plaintext; the last holds 0 to
//! `chunk_size` bytes and is the only one with `final = 1`, so a stream cut at a chunk boundary
//! fails (its last chunk was not sealed as final), chunks moved fail (the index), and chunks from
//! another file, container or account fail (the AAD). The file's name and media type are sealed
//! separately under the same key ([`seal_meta`]), so the server sees neither.
//!
//! `container` names what the file belongs to: `deposit:<provider>:<deposit>` or `item:<item>`.

use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use zeroize::Zeroizing;

use crate::encoding::{Reader, Writer};
use crate::{CryptoRng, Error, FORMAT_V1, Result, secret_bytes, validate_id};

/// Plaintext bytes per chunk that clients write (64 KiB).
pub const CHUNK_SIZE: u32 = 64 * 1024;
/// Smallest and largest chunk size a reader accepts.
pub const CHUNK_SIZE_RANGE: core::ops::RangeInclusive<u32> = 1024..=(1024 * 1024);
/// Length of the stream header.
pub const HEADER_LEN: usize = 1 + 4 + 16;
/// Authentication tag per chunk.
pub const TAG_LEN: usize = 16;
/// Longest file name (bytes) and media type kept in a file's metadata.
pub const MAX_NAME: usize = 255;

secret_bytes!(
    /// The key of one file: random per file, sealed or wrapped beside it.
    FileKey, 32
);

/// What a file stream belongs to: every chunk's AAD binds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileContext<'a> {
    /// The account.
    pub account_id: &'a str,
    /// `deposit:<provider>:<deposit>` or `item:<item>`.
    pub container: &'a str,
    /// The file's id.
    pub file_id: &'a str,
}

impl FileContext<'_> {
    fn validate(&self) -> Result<()> {
        validate_id(self.account_id)?;
        validate_id(self.file_id)?;
        if self.container.is_empty() || self.container.len() > 200 {
            return Err(Error::Invalid("file container"));
        }
        Ok(())
    }

    fn chunk_aad(&self, chunk_size: u32, index: u64, last: bool) -> Vec<u8> {
        let mut w = Writer::with_label("vouchsafe/v1/file-chunk");
        w.str(self.account_id).str(self.container).str(self.file_id).u32(chunk_size).u64(index).u8(u8::from(last));
        w.finish()
    }

    fn meta_aad(&self) -> Vec<u8> {
        let mut w = Writer::with_label("vouchsafe/v1/file-meta");
        w.str(self.account_id).str(self.container).str(self.file_id);
        w.finish()
    }
}

/// A [`FileContext`] kept by a stream that outlives its caller's borrows.
struct OwnedContext {
    account_id: String,
    container: String,
    file_id: String,
}

impl From<&FileContext<'_>> for OwnedContext {
    fn from(c: &FileContext<'_>) -> Self {
        Self { account_id: c.account_id.to_owned(), container: c.container.to_owned(), file_id: c.file_id.to_owned() }
    }
}

impl OwnedContext {
    fn chunk_aad(&self, chunk_size: u32, index: u64, last: bool) -> Vec<u8> {
        FileContext { account_id: &self.account_id, container: &self.container, file_id: &self.file_id }
            .chunk_aad(chunk_size, index, last)
    }
}

fn nonce(prefix: &[u8; 16], index: u64) -> chacha20poly1305::XNonce {
    let mut n = [0u8; 24];
    n[..16].copy_from_slice(prefix);
    n[16..].copy_from_slice(&index.to_be_bytes());
    n.into()
}

/// The ciphertext length of a file of `size` bytes in chunks of `chunk_size`.
pub fn encrypted_len(size: u64, chunk_size: u32) -> u64 {
    let cs = u64::from(chunk_size.max(1));
    // n - 1 full chunks and a last one of 0..=chunk_size bytes: n = max(1, ceil(size / cs)).
    let chunks = size.div_ceil(cs).max(1);
    HEADER_LEN as u64 + size + chunks * TAG_LEN as u64
}

/// Encrypts a file as it arrives: [`Self::update`] with each piece, then [`Self::finish`].
pub struct Encryptor {
    cipher: XChaCha20Poly1305,
    ctx: OwnedContext,
    chunk_size_u32: u32,
    prefix: [u8; 16],
    chunk_size: usize,
    index: u64,
    pending: Zeroizing<Vec<u8>>,
}

impl core::fmt::Debug for Encryptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Encryptor").field("index", &self.index).finish_non_exhaustive()
    }
}

impl Encryptor {
    /// Starts a stream; returns the encryptor and the header to write first.
    pub fn new(key: &FileKey, ctx: &FileContext<'_>, rng: &mut impl CryptoRng) -> Result<(Self, Vec<u8>)> {
        Self::with_chunk_size(key, ctx, CHUNK_SIZE, rng)
    }

    /// The same with another chunk size (tests and vectors use small ones).
    pub fn with_chunk_size(
        key: &FileKey,
        ctx: &FileContext<'_>,
        chunk_size: u32,
        rng: &mut impl CryptoRng,
    ) -> Result<(Self, Vec<u8>)> {
        ctx.validate()?;
        if !CHUNK_SIZE_RANGE.contains(&chunk_size) {
            return Err(Error::Invalid("chunk size"));
        }
        let mut prefix = [0u8; 16];
        rng.fill_bytes(&mut prefix);
        let mut header = Writer::new();
        header.u8(FORMAT_V1).u32(chunk_size).raw(&prefix);
        let enc = Self {
            cipher: XChaCha20Poly1305::new(key.expose_secret().into()),
            ctx: OwnedContext::from(ctx),
            chunk_size_u32: chunk_size,
            prefix,
            chunk_size: chunk_size as usize,
            index: 0,
            pending: Zeroizing::new(Vec::with_capacity(chunk_size as usize)),
        };
        Ok((enc, header.finish()))
    }

    fn seal_chunk(&mut self, plain: &[u8], last: bool, out: &mut Vec<u8>) -> Result<()> {
        let aad = self.ctx.chunk_aad(self.chunk_size_u32, self.index, last);
        let ct = self
            .cipher
            .encrypt(&nonce(&self.prefix, self.index), Payload { msg: plain, aad: &aad })
            .map_err(|_| Error::Invalid("file chunk"))?;
        out.extend_from_slice(&ct);
        self.index = self.index.checked_add(1).ok_or(Error::Invalid("file too long"))?;
        Ok(())
    }

    /// Feeds plaintext; returns the ciphertext of every chunk completed. The last chunk is held
    /// back until [`Self::finish`], which seals it as final.
    pub fn update(&mut self, mut data: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        while !data.is_empty() {
            if self.pending.len() == self.chunk_size {
                // More input follows a full chunk: it is not the last one.
                let chunk = core::mem::take(&mut *self.pending);
                let chunk = Zeroizing::new(chunk);
                self.seal_chunk(&chunk, false, &mut out)?;
                self.pending.reserve(self.chunk_size);
            }
            let take = (self.chunk_size - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
        }
        Ok(out)
    }

    /// Seals what is left as the final chunk.
    pub fn finish(mut self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let chunk = Zeroizing::new(core::mem::take(&mut *self.pending));
        self.seal_chunk(&chunk, true, &mut out)?;
        Ok(out)
    }
}

/// Decrypts a stream as it arrives: [`Self::update`] with each piece of ciphertext (header
/// first), then [`Self::finish`]. Plaintext is released chunk by chunk, each only after its tag
/// verified; a stream is whole only once `finish` succeeds (a caller that keeps plaintext must
/// discard it if `finish` fails).
pub struct Decryptor {
    cipher: XChaCha20Poly1305,
    ctx: OwnedContext,
    header: Option<(u32, [u8; 16])>,
    index: u64,
    pending: Vec<u8>,
}

impl core::fmt::Debug for Decryptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Decryptor").field("index", &self.index).finish_non_exhaustive()
    }
}

impl Decryptor {
    /// Starts decrypting a stream of `ctx` under `key`.
    pub fn new(key: &FileKey, ctx: &FileContext<'_>) -> Result<Self> {
        ctx.validate()?;
        Ok(Self {
            cipher: XChaCha20Poly1305::new(key.expose_secret().into()),
            ctx: OwnedContext::from(ctx),
            header: None,
            index: 0,
            pending: Vec::new(),
        })
    }

    fn open_chunk(&mut self, chunk_size: u32, prefix: &[u8; 16], ct: &[u8], last: bool) -> Result<Zeroizing<Vec<u8>>> {
        let aad = self.ctx.chunk_aad(chunk_size, self.index, last);
        let pt = self
            .cipher
            .decrypt(&nonce(prefix, self.index), Payload { msg: ct, aad: &aad })
            .map_err(|_| Error::Decrypt)?;
        self.index = self.index.checked_add(1).ok_or(Error::Decrypt)?;
        Ok(Zeroizing::new(pt))
    }

    /// Feeds ciphertext; returns the plaintext of every chunk that verified (not the last one,
    /// which is only known to be last at [`Self::finish`]).
    pub fn update(&mut self, data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        self.pending.extend_from_slice(data);
        let mut out = Zeroizing::new(Vec::new());
        if self.header.is_none() {
            if self.pending.len() < HEADER_LEN {
                return Ok(out);
            }
            let mut r = Reader::new(&self.pending[..HEADER_LEN], "file stream header");
            r.version(FORMAT_V1)?;
            let chunk_size = r.u32()?;
            let prefix: [u8; 16] = r.array()?;
            if !CHUNK_SIZE_RANGE.contains(&chunk_size) {
                return Err(Error::Malformed("file stream header"));
            }
            self.header = Some((chunk_size, prefix));
            self.pending.drain(..HEADER_LEN);
        }
        let Some((chunk_size, prefix)) = self.header else { return Ok(out) };
        let sealed_len = chunk_size as usize + TAG_LEN;
        // A full sealed chunk with more bytes after it is not the last one.
        let mut at = 0;
        while self.pending.len() - at > sealed_len {
            let ct = self.pending[at..at + sealed_len].to_vec();
            let pt = self.open_chunk(chunk_size, &prefix, &ct, false)?;
            out.extend_from_slice(&pt);
            at += sealed_len;
        }
        self.pending.drain(..at);
        Ok(out)
    }

    /// Opens the final chunk; fails if the stream was cut, reordered or spliced.
    pub fn finish(mut self) -> Result<Zeroizing<Vec<u8>>> {
        let Some((chunk_size, prefix)) = self.header else { return Err(Error::Malformed("file stream header")) };
        if self.pending.len() < TAG_LEN {
            return Err(Error::Decrypt);
        }
        let ct = core::mem::take(&mut self.pending);
        self.open_chunk(chunk_size, &prefix, &ct, true)
    }
}

/// Encrypts a whole file held in memory (small files, tests).
pub fn encrypt(key: &FileKey, ctx: &FileContext<'_>, plain: &[u8], rng: &mut impl CryptoRng) -> Result<Vec<u8>> {
    let (mut enc, mut out) = Encryptor::new(key, ctx, rng)?;
    out.extend_from_slice(&enc.update(plain)?);
    out.extend_from_slice(&enc.finish()?);
    Ok(out)
}

/// Decrypts a whole stream held in memory.
pub fn decrypt(key: &FileKey, ctx: &FileContext<'_>, stream: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let mut dec = Decryptor::new(key, ctx)?;
    let mut out = dec.update(stream)?;
    out.extend_from_slice(&dec.finish()?);
    Ok(out)
}

/// A file's name and media type (both secret: the server keeps them encrypted).
#[derive(Clone, PartialEq, Eq)]
pub struct FileMeta {
    /// The file name, as the sender gave it.
    pub name: String,
    /// The media type (`application/pdf`), or empty if unknown.
    pub media_type: String,
    /// Plaintext size, bytes.
    pub size: u64,
}

impl core::fmt::Debug for FileMeta {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FileMeta").field("size", &self.size).finish_non_exhaustive()
    }
}

/// `0x01 ‖ nonce[24] ‖ XChaCha20-Poly1305(file_key, nonce, str(name) ‖ str(type) ‖ u64 size,
/// "vouchsafe/v1/file-meta\0" ‖ str(account) ‖ str(container) ‖ str(file_id))`.
pub fn seal_meta(key: &FileKey, ctx: &FileContext<'_>, meta: &FileMeta, rng: &mut impl CryptoRng) -> Result<Vec<u8>> {
    ctx.validate()?;
    if meta.name.len() > MAX_NAME || meta.media_type.len() > MAX_NAME {
        return Err(Error::Invalid("file name or type longer than 255 bytes"));
    }
    let mut pt = Writer::new();
    pt.str(&meta.name).str(&meta.media_type).u64(meta.size);
    let pt = Zeroizing::new(pt.finish());
    let mut n = [0u8; 24];
    rng.fill_bytes(&mut n);
    let ct = XChaCha20Poly1305::new(key.expose_secret().into())
        .encrypt(&n.into(), Payload { msg: &pt, aad: &ctx.meta_aad() })
        .map_err(|_| Error::Invalid("file meta"))?;
    let mut out = vec![FORMAT_V1];
    out.extend_from_slice(&n);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Opens a file's metadata.
pub fn open_meta(key: &FileKey, ctx: &FileContext<'_>, blob: &[u8]) -> Result<FileMeta> {
    ctx.validate()?;
    if blob.len() < 1 + 24 + TAG_LEN || blob.len() > 1 + 24 + 2 * (2 + MAX_NAME) + 8 + TAG_LEN {
        return Err(Error::Malformed("file meta"));
    }
    if blob[0] != FORMAT_V1 {
        return Err(Error::UnsupportedVersion { what: "file meta", version: blob[0] });
    }
    let pt = Zeroizing::new(
        XChaCha20Poly1305::new(key.expose_secret().into())
            .decrypt(&crate::xnonce(&blob[1..25])?, Payload { msg: &blob[25..], aad: &ctx.meta_aad() })
            .map_err(|_| Error::Decrypt)?,
    );
    let mut r = Reader::new(&pt, "file meta");
    let text = |b: &[u8]| core::str::from_utf8(b).map(str::to_owned).map_err(|_| Error::Malformed("file meta"));
    let name = text(r.bytes()?)?;
    let media_type = text(r.bytes()?)?;
    let size = r.u64()?;
    r.finish()?;
    Ok(FileMeta { name, media_type, size })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::DeterministicRng;

    const CTX: FileContext<'static> = FileContext { account_id: "acct", container: "item:i1", file_id: "f1" };

    fn stream(size: usize, chunk: u32, rng: &mut DeterministicRng) -> (FileKey, Vec<u8>, Vec<u8>) {
        let key = FileKey::random(rng);
        let plain: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
        let (mut enc, mut out) = Encryptor::with_chunk_size(&key, &CTX, chunk, rng).unwrap();
        // Fed in odd pieces, to cross chunk boundaries anywhere.
        for piece in plain.chunks(333) {
            out.extend_from_slice(&enc.update(piece).unwrap());
        }
        out.extend_from_slice(&enc.finish().unwrap());
        assert_eq!(out.len() as u64, encrypted_len(size as u64, chunk));
        (key, plain, out)
    }

    #[test]
    fn roundtrip_at_every_boundary() {
        let mut rng = DeterministicRng::new(21);
        for size in [0, 1, 1023, 1024, 1025, 2048, 5000] {
            let (key, plain, ct) = stream(size, 1024, &mut rng);
            // Fed in pieces of every size, the plaintext comes back whole.
            for piece in [1, 17, 1040, 100_000] {
                let mut dec = Decryptor::new(&key, &CTX).unwrap();
                let mut got = Vec::new();
                for p in ct.chunks(piece) {
                    got.extend_from_slice(&dec.update(p).unwrap());
                }
                got.extend_from_slice(&dec.finish().unwrap());
                assert_eq!(got, plain, "size {size}, pieces of {piece}");
            }
        }
    }

    #[test]
    fn truncation_reordering_and_splicing_fail() {
        let mut rng = DeterministicRng::new(22);
        let (key, _, ct) = stream(3000, 1024, &mut rng);
        let sealed = 1024 + TAG_LEN;
        let chunks: Vec<&[u8]> = ct[HEADER_LEN..].chunks(sealed).collect();
        assert_eq!(chunks.len(), 3);
        let header = &ct[..HEADER_LEN];
        // Cut at a chunk boundary, and anywhere else.
        let cut = [header, chunks[0], chunks[1]].concat();
        assert!(decrypt(&key, &CTX, &cut).is_err(), "truncated at a boundary");
        assert!(decrypt(&key, &CTX, &ct[..ct.len() - 1]).is_err());
        assert!(decrypt(&key, &CTX, header).is_err());
        assert!(decrypt(&key, &CTX, &ct[..10]).is_err());
        // Swapped chunks.
        let swapped = [header, chunks[1], chunks[0], chunks[2]].concat();
        assert!(decrypt(&key, &CTX, &swapped).is_err());
        // Extended with a chunk (a copy of one).
        let extended = [&ct[..], chunks[0]].concat();
        assert!(decrypt(&key, &CTX, &extended).is_err());
        // Another file, container or account.
        for other in [
            FileContext { file_id: "f2", ..CTX },
            FileContext { container: "item:i2", ..CTX },
            FileContext { account_id: "acct2", ..CTX },
        ] {
            assert!(decrypt(&key, &other, &ct).is_err());
        }
        // A chunk of another stream under the same key and context (a different nonce prefix).
        let mut rng2 = DeterministicRng::new(23);
        let (mut enc, mut other) = Encryptor::with_chunk_size(&key, &CTX, 1024, &mut rng2).unwrap();
        other.extend_from_slice(&enc.update(&[9; 3000]).unwrap());
        other.extend_from_slice(&enc.finish().unwrap());
        let spliced = [header, chunks[0], &other[HEADER_LEN + sealed..HEADER_LEN + 2 * sealed], chunks[2]].concat();
        assert!(decrypt(&key, &CTX, &spliced).is_err());
        // Every flipped bit.
        for i in (0..ct.len()).step_by(97) {
            let mut b = ct.clone();
            b[i] ^= 1;
            assert!(decrypt(&key, &CTX, &b).is_err(), "flip at {i} accepted");
        }
    }

    #[test]
    fn meta_roundtrip() {
        let mut rng = DeterministicRng::new(24);
        let key = FileKey::random(&mut rng);
        let meta = FileMeta { name: "contract.pdf".into(), media_type: "application/pdf".into(), size: 12 };
        let blob = seal_meta(&key, &CTX, &meta, &mut rng).unwrap();
        assert_eq!(open_meta(&key, &CTX, &blob).unwrap(), meta);
        assert!(open_meta(&key, &FileContext { file_id: "f2", ..CTX }, &blob).is_err());
        assert!(!format!("{meta:?}").contains("contract"));
        let long = FileMeta { name: "x".repeat(256), ..meta };
        assert!(seal_meta(&key, &CTX, &long, &mut rng).is_err());
    }
}
