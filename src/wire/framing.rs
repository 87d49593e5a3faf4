//! LEB128 framing of content items sent over uTP.
//!
//! A FindContent answer over uTP is one item; an Offer's payload is up to 64 items. Each item
//! is prefixed by its length as an unsigned LEB128 varint (at most `u32::MAX`). Decoding checks
//! every length against what the caller can accept *before* reading the item, so a peer cannot
//! make us allocate more than the stream actually carries or than the limit allows.

use super::WireError;

/// Largest LEB128 encoding of a `u32`.
const MAX_VARINT_BYTES: usize = 5;

/// Append `value` as unsigned LEB128.
pub fn write_varint(mut value: u32, out: &mut Vec<u8>) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Read an unsigned LEB128 `u32` from the front of `bytes`; returns it and the bytes it used.
/// Only the minimal encoding is accepted.
pub fn read_varint(bytes: &[u8]) -> Result<(u32, usize), WireError> {
    let mut value: u64 = 0;
    for (i, &byte) in bytes.iter().take(MAX_VARINT_BYTES).enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            // A last group of zero bits after the first byte adds nothing: `0x80 0x00` would be
            // a second encoding of 0. Only the minimal encoding is valid (as upstream clients'
            // `unsigned-varint` requires), so one item has one framing.
            if byte == 0 && i > 0 {
                return Err(WireError::InvalidFraming(
                    "length prefix is not minimally encoded".into(),
                ));
            }
            let value = u32::try_from(value)
                .map_err(|_| WireError::InvalidFraming("length above u32::MAX".into()))?;
            return Ok((value, i + 1));
        }
    }
    if bytes.len() < MAX_VARINT_BYTES {
        Err(WireError::InvalidFraming("truncated length prefix".into()))
    } else {
        Err(WireError::InvalidFraming(
            "length prefix longer than 5 bytes".into(),
        ))
    }
}

/// Frame `items` for a uTP stream.
pub fn encode_items<T: AsRef<[u8]>>(items: &[T]) -> Vec<u8> {
    let total: usize = items
        .iter()
        .map(|i| i.as_ref().len() + MAX_VARINT_BYTES)
        .sum();
    let mut out = Vec::with_capacity(total);
    for item in items {
        let item = item.as_ref();
        // Items come from our own content types, all far below 4 GiB.
        write_varint(item.len() as u32, &mut out);
        out.extend_from_slice(item);
    }
    out
}

/// Split a received uTP payload into items: exactly `max_items` or fewer, each at most
/// `max_item_bytes`, with no bytes left over.
pub fn decode_items(
    mut bytes: &[u8],
    max_items: usize,
    max_item_bytes: usize,
) -> Result<Vec<Vec<u8>>, WireError> {
    let mut items = Vec::new();
    while !bytes.is_empty() {
        if items.len() == max_items {
            return Err(WireError::InvalidFraming(format!(
                "more than {max_items} items"
            )));
        }
        let (len, used) = read_varint(bytes)?;
        let len = len as usize;
        if len > max_item_bytes {
            return Err(WireError::InvalidFraming(format!(
                "item of {len} bytes, at most {max_item_bytes} allowed"
            )));
        }
        bytes = &bytes[used..];
        if bytes.len() < len {
            return Err(WireError::InvalidFraming(format!(
                "item of {len} bytes but only {} left",
                bytes.len()
            )));
        }
        items.push(bytes[..len].to_vec());
        bytes = &bytes[len..];
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_known_encodings() {
        let cases: [(u32, &[u8]); 5] = [
            (0, &[0x00]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (624_485, &[0xe5, 0x8e, 0x26]),
            (u32::MAX, &[0xff, 0xff, 0xff, 0xff, 0x0f]),
        ];
        for (value, bytes) in cases {
            let mut out = Vec::new();
            write_varint(value, &mut out);
            assert_eq!(out, bytes);
            assert_eq!(read_varint(bytes).unwrap(), (value, bytes.len()));
        }
    }

    #[test]
    fn varint_rejects_bad_prefixes() {
        assert!(read_varint(&[]).is_err());
        assert!(read_varint(&[0x80]).is_err());
        assert!(read_varint(&[0xff, 0xff, 0xff, 0xff, 0x1f]).is_err()); // > u32::MAX
        assert!(read_varint(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01]).is_err());
        // Non-minimal encodings (found by fuzz/fuzz_targets/utp_framing.rs).
        assert!(read_varint(&[0x80, 0x00]).is_err());
        assert!(read_varint(&[0xc2, 0x00]).is_err());
        assert!(read_varint(&[0xff, 0x80, 0x80, 0x80, 0x00]).is_err());
    }

    #[test]
    fn items_roundtrip_and_limits() {
        let items = vec![vec![1u8; 3], vec![], vec![7u8; 300]];
        let framed = encode_items(&items);
        assert_eq!(decode_items(&framed, 64, 1024).unwrap(), items);
        assert!(decode_items(&framed, 2, 1024).is_err());
        assert!(decode_items(&framed, 64, 299).is_err());
        assert!(decode_items(&framed[..framed.len() - 1], 64, 1024).is_err());
        assert_eq!(decode_items(&[], 64, 1024).unwrap(), Vec::<Vec<u8>>::new());
    }
}
