//! Binance depth JSON, read straight from the frame bytes so that no Python object is made per
//! level: the `depthUpdate` diff (bare, or wrapped by a combined stream as
//! `{"stream": ..., "data": {...}}`) and the REST `/depth` snapshot body.
//!
//! Prices and sizes stay borrowed `&str` slices of the frame until they are turned into ticks.

use serde::de::{Deserializer, Error as _, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// `[price, size, ...]`: the first two strings of a level array; later fields are ignored.
/// The strings borrow from the frame unless JSON escapes forced a copy.
#[derive(Debug)]
pub struct RawLevel<'a>(pub Cow<'a, str>, pub Cow<'a, str>);

/// A JSON string, borrowed from the input when it has no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a decimal string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                v: &'de str,
            ) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(TextVisitor(PhantomData))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for RawLevel<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LevelVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for LevelVisitor<'a> {
            type Value = RawLevel<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a [price, size] array of strings")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let missing = || A::Error::custom("a level needs a price and a size");
                let price: Text<'a> = seq.next_element()?.ok_or_else(missing)?;
                let size: Text<'a> = seq.next_element()?.ok_or_else(missing)?;
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(RawLevel(price.0, size.0))
            }
        }
        deserializer.deserialize_seq(LevelVisitor(PhantomData))
    }
}

#[derive(Deserialize)]
struct DepthFields<'a> {
    #[serde(rename = "e", borrow, default)]
    event: Option<&'a str>,
    #[serde(rename = "E", default)]
    event_time: Option<u64>,
    #[serde(rename = "U", default)]
    first_update_id: Option<u64>,
    #[serde(rename = "u", default)]
    final_update_id: Option<u64>,
    #[serde(rename = "b", borrow, default)]
    bids: Option<Vec<RawLevel<'a>>>,
    #[serde(rename = "a", borrow, default)]
    asks: Option<Vec<RawLevel<'a>>>,
    /// Present when the frame comes from a combined stream.
    #[serde(borrow, default)]
    data: Option<Box<DepthFields<'a>>>,
}

#[derive(Debug)]
pub struct DepthUpdate<'a> {
    /// Milliseconds since the epoch, when the frame has it.
    pub event_time: Option<u64>,
    pub first_update_id: u64,
    pub final_update_id: u64,
    pub bids: Vec<RawLevel<'a>>,
    pub asks: Vec<RawLevel<'a>>,
}

pub fn parse_depth_update(frame: &[u8]) -> Result<DepthUpdate<'_>, String> {
    let mut fields: DepthFields<'_> =
        serde_json::from_slice(frame).map_err(|e| format!("not a Binance depth update: {e}"))?;
    if let Some(inner) = fields.data.take() {
        fields = *inner;
    }
    if let Some(event) = fields.event {
        if event != "depthUpdate" {
            return Err(format!("not a Binance depth update: event type {event:?}"));
        }
    }
    match (
        fields.first_update_id,
        fields.final_update_id,
        fields.bids,
        fields.asks,
    ) {
        (Some(first), Some(last), Some(bids), Some(asks)) => {
            if first > last {
                return Err(format!("update ids go backwards: U={first} > u={last}"));
            }
            Ok(DepthUpdate {
                event_time: fields.event_time,
                first_update_id: first,
                final_update_id: last,
                bids,
                asks,
            })
        }
        _ => Err("not a Binance depth update: it needs U, u, b and a".to_string()),
    }
}

#[derive(Deserialize)]
pub struct DepthSnapshot<'a> {
    #[serde(rename = "lastUpdateId")]
    pub last_update_id: u64,
    #[serde(borrow)]
    pub bids: Vec<RawLevel<'a>>,
    #[serde(borrow)]
    pub asks: Vec<RawLevel<'a>>,
}

pub fn parse_depth_snapshot(body: &[u8]) -> Result<DepthSnapshot<'_>, String> {
    serde_json::from_slice(body).map_err(|e| format!("not a Binance depth snapshot: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_stream_frame() {
        let frame = br#"{"stream":"nknusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"NKNUSDT","U":5,"u":7,"b":[["0.35130000","6195.00000000"]],"a":[]}}"#;
        let update = parse_depth_update(frame).unwrap();
        assert_eq!((update.first_update_id, update.final_update_id), (5, 7));
        assert_eq!(update.event_time, Some(1));
        assert_eq!(update.bids.len(), 1);
        assert_eq!(update.bids[0].0, "0.35130000");
        assert!(update.asks.is_empty());
    }

    #[test]
    fn other_frames_are_refused() {
        let ticker = br#"{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21","a":"25.36","A":"40.66"}"#;
        assert!(parse_depth_update(ticker).is_err());
        let kline = br#"{"e":"kline","U":1,"u":2,"b":[],"a":[]}"#;
        assert!(parse_depth_update(kline).unwrap_err().contains("kline"));
        assert!(
            parse_depth_update(br#"{"e":"depthUpdate","U":1,"u":2,"b":[["1"]],"a":[]}"#).is_err()
        );
        assert!(parse_depth_update(b"not json").is_err());
    }

    #[test]
    fn snapshot() {
        let body = br#"{"lastUpdateId":160,"bids":[["0.0024","10"]],"asks":[["0.0026","100",[]]]}"#;
        let snapshot = parse_depth_snapshot(body).unwrap();
        assert_eq!(snapshot.last_update_id, 160);
        assert_eq!(snapshot.asks[0].1, "100");
        let escaped = br#"{"lastUpdateId":1,"bids":[["\u0031","2\n"]],"asks":[]}"#;
        let snapshot = parse_depth_snapshot(escaped).unwrap();
        assert_eq!((&*snapshot.bids[0].0, &*snapshot.bids[0].1), ("1", "2\n"));
    }
}
