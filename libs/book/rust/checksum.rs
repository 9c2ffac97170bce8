//! Venue checksums computed from the book's own integer ticks, without formatting strings for
//! Python.
//!
//! Kraken's book checksum writes each of the top 10 asks then bids as price then quantity with
//! the pair's fixed decimals, drops the `.` and the leading zeros, and CRC32s the concatenation.
//! With the book holding value * 10^decimals as integer ticks, "fixed decimals without the dot
//! and leading zeros" is exactly the decimal digits of the tick count (and nothing for zero),
//! so the string is built straight from the ticks. The book's decimals must be the pair's wire
//! widths (the adapter takes them from AssetPairs or the snapshot's strings).

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320): what `zlib.crc32` computes.
const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

const CRC_TABLE: [u32; 256] = crc_table();

pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc = CRC_TABLE[((crc ^ b as u32) & 0xFF) as usize] ^ (crc >> 8);
    }
    crc ^ 0xFFFF_FFFF
}

/// Appends the decimal digits of `ticks`; zero appends nothing (all its digits are leading
/// zeros).
fn push_digits(ticks: u128, out: &mut Vec<u8>) {
    if ticks == 0 {
        return;
    }
    let mut buf = [0u8; 40];
    let mut i = buf.len();
    // u128 division is a software routine; almost every level fits u64, whose division is one
    // instruction (this was most of the checksum's time).
    if let Ok(mut n) = u64::try_from(ticks) {
        while n > 0 {
            i -= 1;
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    } else {
        let mut n = ticks;
        while n > 0 {
            i -= 1;
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Kraken's checksum of levels given best first: asks then bids, each (price, size) in ticks.
pub fn kraken(
    asks: impl Iterator<Item = (u128, u128)>,
    bids: impl Iterator<Item = (u128, u128)>,
) -> u32 {
    let mut text = Vec::with_capacity(512);
    for (price, size) in asks.chain(bids) {
        push_digits(price, &mut text);
        push_digits(size, &mut text);
    }
    crc32(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_zlib() {
        // zlib.crc32(b"123456789") == 0xCBF43926, the standard check value.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn kraken_digits_drop_dot_and_leading_zeros() {
        // "0.05005" "0.00000500" -> "5005" "500"; "45283.5" "0.10000000" -> "452835" "10000000"
        let expected = crc32(b"5005500452835" as &[u8]);
        let mut text = Vec::new();
        push_digits(5005, &mut text);
        push_digits(500, &mut text);
        push_digits(452_835, &mut text);
        assert_eq!(text, b"5005500452835");
        let mut wide = Vec::new();
        push_digits(u128::MAX, &mut wide);
        assert_eq!(wide, u128::MAX.to_string().into_bytes());
        assert_eq!(
            kraken([(5005, 500)].into_iter(), [(452_835, 0)].into_iter()),
            expected
        );
    }
}
