//! One side of the book: levels in a `Vec`, sorted worst to best, so the best level is the last
//! element (O(1) to read) and the levels that change most — those near the top — sit near the
//! end, where inserting or removing moves few elements. Lookup is a binary search, O(log n).
//!
//! Both sides are stored with an ascending "rank": the price itself for bids (higher is better)
//! and its complement for asks (lower is better), so one piece of code serves both.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bids,
    Asks,
}

#[derive(Debug, Clone)]
pub struct Side {
    kind: Kind,
    /// (rank, size ticks), ascending by rank: the last element is the best level.
    levels: Vec<(u128, u128)>,
}

impl Side {
    pub fn new(kind: Kind) -> Self {
        Side {
            kind,
            levels: Vec::new(),
        }
    }

    #[inline]
    fn rank(&self, price: u128) -> u128 {
        match self.kind {
            Kind::Bids => price,
            Kind::Asks => u128::MAX - price,
        }
    }

    #[inline]
    fn price(&self, rank: u128) -> u128 {
        // The complement is its own inverse.
        self.rank(rank)
    }

    /// Set a level; a size of zero removes it. Returns nothing: a removal of an absent level
    /// is not an error, exchanges send them routinely.
    #[inline]
    pub fn set(&mut self, price: u128, size: u128) {
        let rank = self.rank(price);
        // Most updates hit the top: check the best level before searching.
        let found = match self.levels.last() {
            Some(&(best, _)) if rank > best => Err(self.levels.len()),
            _ => self.levels.binary_search_by(|&(r, _)| r.cmp(&rank)),
        };
        match (found, size) {
            (Ok(at), 0) => {
                self.levels.remove(at);
            }
            (Ok(at), _) => self.levels[at].1 = size,
            (Err(_), 0) => {}
            (Err(at), _) => self.levels.insert(at, (rank, size)),
        }
    }

    pub fn clear(&mut self) {
        self.levels.clear();
    }

    /// Keep the `depth` best levels: they are at the end, so drop from the front.
    pub fn truncate(&mut self, depth: usize) {
        if self.levels.len() > depth {
            let excess = self.levels.len() - depth;
            self.levels.drain(..excess);
        }
    }

    /// Build from unsorted (price, size) pairs. Zero sizes are skipped (a snapshot has nothing
    /// to remove) and among duplicates the later non-zero one wins, as the book always did.
    pub fn load(&mut self, levels: &[(u128, u128)]) {
        self.levels.clear();
        self.levels.reserve(levels.len());
        for &(price, size) in levels {
            if size != 0 {
                self.levels.push((self.rank(price), size));
            }
        }
        // Stable sort keeps input order among duplicates; keep the last of each run.
        self.levels.sort_by_key(|&(rank, _)| rank);
        let mut write = 0usize;
        for read in 0..self.levels.len() {
            let level = self.levels[read];
            if write > 0 && self.levels[write - 1].0 == level.0 {
                self.levels[write - 1] = level;
            } else {
                self.levels[write] = level;
                write += 1;
            }
        }
        self.levels.truncate(write);
    }

    pub fn len(&self) -> usize {
        self.levels.len()
    }

    pub fn best(&self) -> Option<(u128, u128)> {
        self.levels
            .last()
            .map(|&(rank, size)| (self.price(rank), size))
    }

    /// Best first, at most `depth` levels.
    pub fn iter_best_first(&self, depth: usize) -> impl Iterator<Item = (u128, u128)> + '_ {
        self.levels
            .iter()
            .rev()
            .take(depth)
            .map(|&(rank, size)| (self.price(rank), size))
    }

    /// Heap bytes held by this side (capacity, not length: what the process really pays).
    pub fn heap_bytes(&self) -> usize {
        self.levels.capacity() * std::mem::size_of::<(u128, u128)>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_is_highest_bid_and_lowest_ask() {
        let mut bids = Side::new(Kind::Bids);
        let mut asks = Side::new(Kind::Asks);
        for p in [5u128, 9, 1, 7] {
            bids.set(p, p * 10);
            asks.set(p, p * 10);
        }
        assert_eq!(bids.best(), Some((9, 90)));
        assert_eq!(asks.best(), Some((1, 10)));
        let order: Vec<u128> = asks.iter_best_first(10).map(|(p, _)| p).collect();
        assert_eq!(order, vec![1, 5, 7, 9]);
        bids.set(9, 0);
        bids.set(8, 0);
        assert_eq!(bids.best(), Some((7, 70)));
        bids.truncate(2);
        let kept: Vec<u128> = bids.iter_best_first(10).map(|(p, _)| p).collect();
        assert_eq!(kept, vec![7, 5]);
    }

    #[test]
    fn load_sorts_skips_zeros_and_keeps_the_last_duplicate() {
        let mut asks = Side::new(Kind::Asks);
        asks.load(&[(3, 1), (2, 5), (3, 0), (4, 2), (2, 6)]);
        let levels: Vec<(u128, u128)> = asks.iter_best_first(10).collect();
        assert_eq!(levels, vec![(2, 6), (3, 1), (4, 2)]);
    }
}
