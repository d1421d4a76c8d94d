//! Repairs the preamble and every frame's length and checksums of arbitrary bytes, so that
//! mutations reach what lies behind the checksums (event decoding, chunk headers, postcard
//! records). Shared by the targets that need it.

use trace_format::frame::{self, FRAME_HEADER_LEN, PREAMBLE_LEN};

/// `data` with a valid preamble, and each frame's length clamped to the bytes left and its
/// checksums recomputed.
pub fn resealed(data: &[u8]) -> Vec<u8> {
    let mut b = data.to_vec();
    if b.len() >= PREAMBLE_LEN {
        b[..PREAMBLE_LEN].copy_from_slice(&frame::preamble());
    }
    let mut pos = PREAMBLE_LEN;
    while pos + FRAME_HEADER_LEN <= b.len() {
        let room = (b.len() - pos - FRAME_HEADER_LEN) as u32;
        let len = u32::from_le_bytes(b[pos + 4..pos + 8].try_into().unwrap()).min(room);
        let body = pos + FRAME_HEADER_LEN;
        let crc = crc32fast::hash(&b[body..body + len as usize]);
        let mut h = frame::frame_header(b[pos], len, crc);
        h[1..4].copy_from_slice(&b[pos + 1..pos + 4]);
        let hc = crc32fast::hash(&h[..12]);
        h[12..].copy_from_slice(&hc.to_le_bytes());
        b[pos..body].copy_from_slice(&h);
        pos = body + len as usize;
    }
    b
}
