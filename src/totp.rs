//! TOTP (RFC 6238 over RFC 4226 HOTP): HMAC-SHA-1, 30-second steps, 6 digits — the parameters
//! every authenticator app accepts — and the base32 (RFC 4648, no padding) the apps take the
//! secret in.

use hmac::{Hmac, KeyInit as _, Mac};
use zeroize::Zeroizing;

/// Seconds per step.
pub const PERIOD: i64 = 30;
/// Digits of a code.
pub const DIGITS: usize = 6;
/// Steps either side of now a code is still accepted (clock drift of up to 30 s).
pub const SKEW: i64 = 1;
/// Bytes of a secret (160 bits, RFC 4226's recommendation).
pub const SECRET_LEN: usize = 20;

/// The time step `now` (Unix seconds) falls in.
pub fn step(now: i64) -> i64 {
    now.div_euclid(PERIOD)
}

/// HOTP of `counter` under `secret`, as an integer below 10^[`DIGITS`] (RFC 4226 §5.3).
pub fn hotp(secret: &[u8], counter: u64) -> u32 {
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(secret) else { return u32::MAX };
    mac.update(&counter.to_be_bytes());
    let h: Zeroizing<[u8; 20]> = Zeroizing::new(mac.finalize().into_bytes().into());
    let offset = usize::from(h[19] & 0x0f);
    let bin = u32::from_be_bytes([h[offset] & 0x7f, h[offset + 1], h[offset + 2], h[offset + 3]]);
    bin % 10u32.pow(DIGITS as u32)
}

/// The code of `step`, zero-padded.
pub fn code(secret: &[u8], step: i64) -> String {
    format!("{:0width$}", hotp(secret, u64::try_from(step).unwrap_or(0)), width = DIGITS)
}

/// The step within [`SKEW`] of `now` whose code `typed` is, if any (compared in constant time;
/// spaces and dashes the person typed are ignored). Only steps after `last_used` count, so a
/// code is good once.
pub fn matching_step(secret: &[u8], typed: &str, now: i64, last_used: i64) -> Option<i64> {
    use subtle::ConstantTimeEq as _;
    let digits: String = typed.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if digits.len() != DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now_step = step(now);
    let mut found = None;
    for s in now_step - SKEW..=now_step + SKEW {
        if code(secret, s).as_bytes().ct_eq(digits.as_bytes()).into() && s > last_used {
            found = Some(s);
        }
    }
    found
}

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding, as authenticator apps take secrets.
pub fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buf, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buf = (buf << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buf >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buf << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Reads RFC 4648 base32 (any case, no padding, spaces ignored), as an app's setup key.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buf, mut bits) = (0u32, 0u32);
    for c in text.bytes().filter(|c| *c != b' ') {
        let v = ALPHABET.iter().position(|a| *a == c.to_ascii_uppercase())?;
        buf = (buf << 5) | u32::try_from(v).ok()?;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((buf >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}

/// The `otpauth://` URI an authenticator app (or its QR code) takes.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(b).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={PERIOD}",
        enc(issuer),
        enc(account),
        base32(secret),
        enc(issuer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B (SHA-1), truncated to 6 digits, and RFC 4648 §10.
    #[test]
    fn rfc_vectors() {
        let secret = b"12345678901234567890";
        for (t, eight) in
            [(59, "94287082"), (1_111_111_109, "07081804"), (1_234_567_890, "89005924"), (2_000_000_000, "69279037")]
        {
            assert_eq!(code(secret, step(t)), eight[2..], "t={t}");
        }
        assert_eq!(code(secret, 1), "287082");
        for (raw, b32) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32(raw.as_bytes()), b32);
            assert_eq!(base32_decode(b32).as_deref(), Some(raw.as_bytes()));
        }
        assert_eq!(base32_decode("mzxw 6ytb"), Some(b"fooba".to_vec()));
        assert_eq!(base32_decode("MZ1"), None);
    }

    #[test]
    fn a_code_matches_within_the_skew_once() {
        let secret = [7u8; SECRET_LEN];
        let now = 1_800_000_000;
        let c = code(&secret, step(now));
        assert_eq!(matching_step(&secret, &c, now, 0), Some(step(now)));
        assert_eq!(matching_step(&secret, &format!("{} {}", &c[..3], &c[3..]), now, 0), Some(step(now)));
        // The previous and next step's codes still count; two steps away does not.
        assert_eq!(matching_step(&secret, &code(&secret, step(now) - 1), now, 0), Some(step(now) - 1));
        assert_eq!(matching_step(&secret, &code(&secret, step(now) + 1), now, 0), Some(step(now) + 1));
        assert_eq!(matching_step(&secret, &code(&secret, step(now) - 2), now, 0), None);
        // Used already (or an older step after a newer one was used): refused.
        assert_eq!(matching_step(&secret, &c, now, step(now)), None);
        assert_eq!(matching_step(&secret, &code(&secret, step(now) - 1), now, step(now)), None);
        for bad in ["", "12345", "1234567", "abcdef", "12345a"] {
            assert_eq!(matching_step(&secret, bad, now, 0), None, "{bad}");
        }
        let uri = otpauth_uri("Vouchsafe (vault.example)", "ann@example.com", &secret);
        assert!(uri.starts_with("otpauth://totp/Vouchsafe%20%28vault.example%29:ann%40example.com?secret="), "{uri}");
        assert!(uri.ends_with("&algorithm=SHA1&digits=6&period=30"), "{uri}");
    }
}
