//! Native core of `eip.book.L2Book` (Python module `eip.book._native`).
//!
//! Why native: the platform's books take every diff of every subscribed symbol. In pure Python
//! each level costs a `Decimal` parse, a tuple and a `SortedDict` update (a few microseconds);
//! here a level is parsed by hand from the frame bytes into integer ticks and set in a sorted
//! `Vec` (see `side.rs`), so a whole frame costs about what one Python call costs.
//!
//! Prices and sizes are `u128` ticks (value * 10^decimals, decimals <= 18): exact, and wide
//! enough for 20 integer digits at 18 decimals. Values beyond that are refused ("out of range")
//! rather than wrapped.
//!
//! Every update validates all of its levels before changing anything, so a bad level leaves
//! the book as it was.

mod binance;
mod checksum;
mod decimal;
pub mod side;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

use decimal::{format, parse_ticks, NumError};
use side::{Kind, Side};

const MAX_DECIMALS: i64 = 18;

type Levels = Vec<(u128, u128)>;
type StringLevels = Vec<(String, String)>;

fn repr(py: Python<'_>, text: &str) -> String {
    PyString::new(py, text)
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| format!("{text:?}"))
}

fn number_error(py: Python<'_>, error: NumError, text: &str, decimals: u32) -> PyErr {
    let shown = repr(py, text);
    PyValueError::new_err(match error {
        NumError::Syntax => format!("not a decimal number: {shown}"),
        NumError::NotFinite => format!("not a finite decimal: {shown}"),
        NumError::TooPrecise => format!("{shown} has more than {decimals} decimal places"),
        NumError::OutOfRange => format!("{shown} is out of range for this book"),
    })
}

fn depth_limit(depth: Option<i64>) -> PyResult<usize> {
    match depth {
        None => Ok(usize::MAX),
        Some(d) if d < 0 => Err(PyValueError::new_err(format!(
            "depth must not be negative: {d}"
        ))),
        Some(d) => Ok(usize::try_from(d).unwrap_or(usize::MAX)),
    }
}

/// Text of one price or size as given: a `str` is read in place, anything else through `str()`,
/// as the book always accepted (e.g. a `Decimal`).
fn with_text<R>(item: &Bound<'_, PyAny>, f: impl FnOnce(&str) -> PyResult<R>) -> PyResult<R> {
    if let Ok(s) = item.cast::<PyString>() {
        return f(s.to_str()?);
    }
    let s = item.str()?;
    f(s.to_str()?)
}

struct AppliedDepth {
    first_update_id: u64,
    final_update_id: u64,
    event_time: Option<u64>,
    bids: Levels,
    asks: Levels,
    applied: bool,
}

/// The book's decimals: all that reading and formatting levels needs, so that it can run
/// without borrowing the book (reading Python levels may run Python code that uses the book).
#[derive(Clone, Copy)]
struct Scale {
    price_decimals: u32,
    size_decimals: u32,
}

#[pyclass(subclass, module = "eip.book._native")]
pub struct L2BookCore {
    scale: Scale,
    bids: Side,
    asks: Side,
}

impl Scale {
    /// Price and size ticks of one level, checked in the order the book always checked them.
    fn level_ticks(&self, py: Python<'_>, price: &str, size: &str) -> PyResult<(u128, u128)> {
        let p = parse_ticks(price, self.price_decimals)
            .map_err(|e| number_error(py, e, price, self.price_decimals))?;
        let s = parse_ticks(size, self.size_decimals)
            .map_err(|e| number_error(py, e, size, self.size_decimals))?;
        if p.negative || p.ticks == 0 {
            return Err(PyValueError::new_err(format!(
                "price must be positive: {}",
                repr(py, price)
            )));
        }
        if s.negative && s.ticks != 0 {
            return Err(PyValueError::new_err(format!(
                "size must not be negative: {}",
                repr(py, size)
            )));
        }
        Ok((p.ticks, s.ticks))
    }

    fn object_level(&self, level: &Bound<'_, PyAny>) -> PyResult<(u128, u128)> {
        let py = level.py();
        let too_short = || {
            let shown = level.repr().map(|r| r.to_string()).unwrap_or_default();
            PyValueError::new_err(format!("a level needs a price and a size: {shown}"))
        };
        let (price, size) = if let Ok(list) = level.cast::<PyList>() {
            if list.len() < 2 {
                return Err(too_short());
            }
            (list.get_item(0)?, list.get_item(1)?)
        } else if let Ok(tuple) = level.cast::<PyTuple>() {
            if tuple.len() < 2 {
                return Err(too_short());
            }
            (tuple.get_item(0)?, tuple.get_item(1)?)
        } else if level.is_instance_of::<PyString>() || level.is_instance_of::<PyBytes>() {
            // A string is a sequence too, but "12" is not price 1, size 2.
            return Err(too_short());
        } else {
            if level.len().map_err(|_| too_short())? < 2 {
                return Err(too_short());
            }
            (level.get_item(0)?, level.get_item(1)?)
        };
        with_text(&price, |p| with_text(&size, |s| self.level_ticks(py, p, s)))
    }

    fn object_levels(&self, levels: &Bound<'_, PyAny>) -> PyResult<Levels> {
        let mut out = Vec::new();
        for level in levels.try_iter()? {
            out.push(self.object_level(&level?)?);
        }
        Ok(out)
    }

    fn raw_levels(&self, py: Python<'_>, levels: &[binance::RawLevel<'_>]) -> PyResult<Levels> {
        levels
            .iter()
            .map(|l| self.level_ticks(py, &l.0, &l.1))
            .collect()
    }

    fn format_level(&self, (price, size): (u128, u128)) -> (String, String) {
        (
            format(price, self.price_decimals),
            format(size, self.size_decimals),
        )
    }

    fn format_levels(&self, levels: &[(u128, u128)]) -> StringLevels {
        levels
            .iter()
            .map(|&level| self.format_level(level))
            .collect()
    }
}

impl L2BookCore {
    fn binance_depth(
        &mut self,
        py: Python<'_>,
        frame: &Bound<'_, PyAny>,
        last_update_id: Option<u64>,
    ) -> PyResult<AppliedDepth> {
        let update =
            binance::parse_depth_update(frame_bytes(frame)?).map_err(PyValueError::new_err)?;
        // Validated before the sequence check: a malformed frame is an error even when stale.
        let mut applied = AppliedDepth {
            first_update_id: update.first_update_id,
            final_update_id: update.final_update_id,
            event_time: update.event_time,
            bids: self.scale.raw_levels(py, &update.bids)?,
            asks: self.scale.raw_levels(py, &update.asks)?,
            applied: true,
        };
        if let Some(last) = last_update_id {
            // Binance's rule: an event applies when U <= last + 1 <= u. Older events are
            // already in the book; later ones mean a gap. Either way nothing changes here.
            let next = last.saturating_add(1);
            applied.applied = applied.first_update_id <= next && next <= applied.final_update_id;
        }
        if applied.applied {
            self.set_all(&applied.bids, &applied.asks);
        }
        Ok(applied)
    }

    fn set_all(&mut self, bids: &[(u128, u128)], asks: &[(u128, u128)]) {
        for &(price, size) in bids {
            self.bids.set(price, size);
        }
        for &(price, size) in asks {
            self.asks.set(price, size);
        }
    }

    fn strings(&self, side: &Side, depth: usize) -> StringLevels {
        side.iter_best_first(depth)
            .map(|level| self.scale.format_level(level))
            .collect()
    }

    fn best_strings(&self, side: &Side) -> Option<(String, String)> {
        side.best().map(|level| self.scale.format_level(level))
    }
}

/// Frame text without a copy: `bytes` as is, `str` through its cached UTF-8.
fn frame_bytes<'a>(frame: &'a Bound<'_, PyAny>) -> PyResult<&'a [u8]> {
    if let Ok(b) = frame.cast::<PyBytes>() {
        return Ok(b.as_bytes());
    }
    if let Ok(s) = frame.cast::<PyString>() {
        return Ok(s.to_str()?.as_bytes());
    }
    Err(PyValueError::new_err("a frame must be bytes or str"))
}

#[pymethods]
impl L2BookCore {
    #[new]
    #[pyo3(signature = (price_decimals, size_decimals))]
    fn new(price_decimals: i64, size_decimals: i64) -> PyResult<Self> {
        let ok = |d: i64| (0..=MAX_DECIMALS).contains(&d);
        if !(ok(price_decimals) && ok(size_decimals)) {
            return Err(PyValueError::new_err("decimals must be between 0 and 18"));
        }
        Ok(L2BookCore {
            scale: Scale {
                price_decimals: price_decimals as u32,
                size_decimals: size_decimals as u32,
            },
            bids: Side::new(Kind::Bids),
            asks: Side::new(Kind::Asks),
        })
    }

    #[getter]
    fn price_decimals(&self) -> u32 {
        self.scale.price_decimals
    }

    #[getter]
    fn size_decimals(&self) -> u32 {
        self.scale.size_decimals
    }

    // `apply` and `replace` read the levels before borrowing the book mutably: iterating them
    // may run Python code (a generator, a `__str__`) that reads this very book.
    fn apply(
        slf: &Bound<'_, Self>,
        bids: &Bound<'_, PyAny>,
        asks: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let scale = slf.borrow().scale;
        let bids = scale.object_levels(bids)?;
        let asks = scale.object_levels(asks)?;
        slf.borrow_mut().set_all(&bids, &asks);
        Ok(())
    }

    /// ``apply``, returning what a ``BookDelta`` carries: the levels applied as this book
    /// formats them and, with ``depth``, every level pushed beyond the ``depth`` best with size
    /// zero (venues that keep only ``depth`` levels send no removal for them), the book then
    /// truncated to ``depth``. One pass: no Python ``Decimal`` per level, no whole side
    /// formatted to find the levels past the depth.
    #[pyo3(signature = (bids, asks, depth = None))]
    fn apply_levels(
        slf: &Bound<'_, Self>,
        bids: &Bound<'_, PyAny>,
        asks: &Bound<'_, PyAny>,
        depth: Option<i64>,
    ) -> PyResult<(StringLevels, StringLevels)> {
        let scale = slf.borrow().scale;
        let bids = scale.object_levels(bids)?;
        let asks = scale.object_levels(asks)?;
        let limit = depth_limit(depth)?;
        let mut guard = slf.borrow_mut();
        let book = &mut *guard;
        book.set_all(&bids, &asks);
        let mut bids_out = scale.format_levels(&bids);
        let mut asks_out = scale.format_levels(&asks);
        if depth.is_some() {
            let zero = format(0, scale.size_decimals);
            for (side, out) in [
                (&mut book.bids, &mut bids_out),
                (&mut book.asks, &mut asks_out),
            ] {
                if side.len() > limit {
                    out.extend(
                        side.iter_best_first(usize::MAX)
                            .skip(limit)
                            .map(|(price, _)| (format(price, scale.price_decimals), zero.clone())),
                    );
                    side.truncate(limit);
                }
            }
        }
        Ok((bids_out, asks_out))
    }

    /// Kraken's CRC32 of the ``depth`` (10) best asks then bids, from the ticks (see
    /// ``checksum.rs``): equal to ``zlib.crc32`` of the documented string when the book's
    /// decimals are the pair's.
    #[pyo3(signature = (depth = 10))]
    fn kraken_checksum(&self, depth: i64) -> PyResult<u32> {
        let depth = depth_limit(Some(depth))?;
        Ok(checksum::kraken(
            self.asks.iter_best_first(depth),
            self.bids.iter_best_first(depth),
        ))
    }

    fn replace(
        slf: &Bound<'_, Self>,
        bids: &Bound<'_, PyAny>,
        asks: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let scale = slf.borrow().scale;
        let bids = scale.object_levels(bids)?;
        let asks = scale.object_levels(asks)?;
        let mut book = slf.borrow_mut();
        book.bids.load(&bids);
        book.asks.load(&asks);
        Ok(())
    }

    fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
    }

    fn truncate(&mut self, depth: i64) -> PyResult<()> {
        let depth = depth_limit(Some(depth))?;
        self.bids.truncate(depth);
        self.asks.truncate(depth);
        Ok(())
    }

    #[pyo3(signature = (frame, last_update_id = None))]
    fn apply_binance_depth(
        &mut self,
        py: Python<'_>,
        frame: &Bound<'_, PyAny>,
        last_update_id: Option<u64>,
    ) -> PyResult<(u64, u64, usize)> {
        let applied = self.binance_depth(py, frame, last_update_id)?;
        let count = if applied.applied {
            applied.bids.len() + applied.asks.len()
        } else {
            0
        };
        Ok((applied.first_update_id, applied.final_update_id, count))
    }

    /// The same, also returning the frame's event time (ms, or None) and the levels it applied
    /// as this book formats them (both empty when the sequence rule skipped the frame): what a
    /// feed needs for its ``BookDelta``.
    #[pyo3(signature = (frame, last_update_id = None))]
    fn apply_binance_depth_levels(
        &mut self,
        py: Python<'_>,
        frame: &Bound<'_, PyAny>,
        last_update_id: Option<u64>,
    ) -> PyResult<(u64, u64, Option<u64>, StringLevels, StringLevels)> {
        let applied = self.binance_depth(py, frame, last_update_id)?;
        let (bids, asks) = if applied.applied {
            (
                self.scale.format_levels(&applied.bids),
                self.scale.format_levels(&applied.asks),
            )
        } else {
            (Vec::new(), Vec::new())
        };
        Ok((
            applied.first_update_id,
            applied.final_update_id,
            applied.event_time,
            bids,
            asks,
        ))
    }

    /// Levels validated exactly as ``apply`` would and formatted as this book formats them;
    /// the book does not change.
    fn level_strings(slf: &Bound<'_, Self>, levels: &Bound<'_, PyAny>) -> PyResult<StringLevels> {
        let scale = slf.borrow().scale;
        Ok(scale.format_levels(&scale.object_levels(levels)?))
    }

    fn replace_binance_depth_snapshot(
        &mut self,
        py: Python<'_>,
        body: &Bound<'_, PyAny>,
    ) -> PyResult<u64> {
        let snapshot =
            binance::parse_depth_snapshot(frame_bytes(body)?).map_err(PyValueError::new_err)?;
        let bids = self.scale.raw_levels(py, &snapshot.bids)?;
        let asks = self.scale.raw_levels(py, &snapshot.asks)?;
        self.bids.load(&bids);
        self.asks.load(&asks);
        Ok(snapshot.last_update_id)
    }

    fn best_bid_ticks(&self) -> Option<(u128, u128)> {
        self.bids.best()
    }

    fn best_ask_ticks(&self) -> Option<(u128, u128)> {
        self.asks.best()
    }

    fn best_bid_strings(&self) -> Option<(String, String)> {
        self.best_strings(&self.bids)
    }

    fn best_ask_strings(&self) -> Option<(String, String)> {
        self.best_strings(&self.asks)
    }

    #[pyo3(signature = (depth = None))]
    fn bid_strings(&self, depth: Option<i64>) -> PyResult<StringLevels> {
        Ok(self.strings(&self.bids, depth_limit(depth)?))
    }

    #[pyo3(signature = (depth = None))]
    fn ask_strings(&self, depth: Option<i64>) -> PyResult<StringLevels> {
        Ok(self.strings(&self.asks, depth_limit(depth)?))
    }

    fn top_strings(&self, depth: i64) -> PyResult<(StringLevels, StringLevels)> {
        let depth = depth_limit(Some(depth))?;
        Ok((
            self.strings(&self.bids, depth),
            self.strings(&self.asks, depth),
        ))
    }

    #[getter]
    fn bid_count(&self) -> usize {
        self.bids.len()
    }

    #[getter]
    fn ask_count(&self) -> usize {
        self.asks.len()
    }

    fn is_crossed(&self) -> bool {
        match (self.bids.best(), self.asks.best()) {
            (Some((bid, _)), Some((ask, _))) => bid >= ask,
            _ => false,
        }
    }

    fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.bids.heap_bytes() + self.asks.heap_bytes()
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<L2BookCore>()?;
    Ok(())
}
