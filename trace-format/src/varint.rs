//! LEB128 unsigned varints and zigzag signed mapping, the integer encoding of event arguments.

/// Longest encoding of a `u64` (ceil(64 / 7)).
pub const MAX_VARINT_LEN: usize = 10;

/// Writes `v` at `out[pos..]` and returns the position after it.
///
/// The caller guarantees `out` has at least [`MAX_VARINT_LEN`] bytes after `pos`.
#[inline(always)]
pub fn put(out: &mut [u8], mut pos: usize, mut v: u64) -> usize {
    // Most values the recorder writes (time deltas, task id deltas) take one or two bytes:
    // handled without the loop, which compiles to fewer instructions on the hot path.
    if v < 0x80 {
        out[pos] = v as u8;
        return pos + 1;
    }
    if v < 0x4000 {
        out[pos] = (v as u8) | 0x80;
        out[pos + 1] = (v >> 7) as u8;
        return pos + 2;
    }
    while v >= 0x80 {
        out[pos] = (v as u8) | 0x80;
        v >>= 7;
        pos += 1;
    }
    out[pos] = v as u8;
    pos + 1
}

/// Reads a varint at `bytes[*pos..]`, advancing `pos`. `None` when it is cut short or
/// longer than a `u64` can hold.
#[inline]
pub fn get(bytes: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v: u64 = 0;
    let mut shift = 0u32;
    loop {
        let b = *bytes.get(*pos)?;
        *pos += 1;
        if shift == 63 && b > 1 {
            return None;
        }
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
}

/// Maps signed to unsigned so that small magnitudes stay small: 0,-1,1,-2 → 0,1,2,3.
#[inline(always)]
pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Inverse of [`zigzag`].
#[inline(always)]
pub fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_encodings() {
        let mut buf = [0u8; MAX_VARINT_LEN];
        assert_eq!(put(&mut buf, 0, 0), 1);
        assert_eq!(buf[0], 0);
        assert_eq!(put(&mut buf, 0, 300), 2);
        assert_eq!(&buf[..2], &[0xac, 0x02]);
        assert_eq!(put(&mut buf, 0, u64::MAX), MAX_VARINT_LEN);
    }

    #[test]
    fn rejects_overlong_and_cut() {
        let mut pos = 0;
        assert_eq!(get(&[0x80, 0x80], &mut pos), None);
        let mut pos = 0;
        assert_eq!(get(&[0xff; 11], &mut pos), None);
        // 10th byte may only carry the top bit of a u64.
        let mut bytes = [0xffu8; 10];
        bytes[9] = 0x02;
        let mut pos = 0;
        assert_eq!(get(&bytes, &mut pos), None);
    }

    proptest! {
        #[test]
        fn round_trip(v: u64) {
            let mut buf = [0u8; MAX_VARINT_LEN];
            let n = put(&mut buf, 0, v);
            let mut pos = 0;
            prop_assert_eq!(get(&buf[..n], &mut pos), Some(v));
            prop_assert_eq!(pos, n);
        }

        #[test]
        fn zigzag_round_trip(v: i64) {
            prop_assert_eq!(unzigzag(zigzag(v)), v);
        }
    }
}
