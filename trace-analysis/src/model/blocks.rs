//! Ordered lists that are cheap to grow and to consume: [`Blocks`], and [`merge_by_key`] to
//! merge several of them in order (the allocator counters, often most of a trace's events).

/// Items in blocks of [`Blocks::BLOCK`]: growing never copies what is there, and consuming
/// it ([`Blocks::into_sorted_iter`]) frees each block as soon as it has been read.
pub(super) struct Blocks<T> {
    blocks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Blocks<T> {
    fn default() -> Self {
        Blocks {
            blocks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Blocks<T> {
    const BLOCK: usize = 1 << 16;

    pub(super) fn push(&mut self, item: T) {
        match self.blocks.last_mut() {
            Some(last) if last.len() < Self::BLOCK => last.push(item),
            _ => {
                let mut block = Vec::with_capacity(Self::BLOCK);
                block.push(item);
                self.blocks.push(block);
            }
        }
        self.len += 1;
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The items ordered by `key` (stable: equal keys keep their order). Items that are in
    /// order already, as a thread's events are, are yielded block by block, each freed once
    /// read; otherwise they are gathered and sorted first.
    pub(super) fn into_sorted_iter<K: Ord>(
        self,
        key: impl Fn(&T) -> K,
    ) -> std::iter::Flatten<std::vec::IntoIter<Vec<T>>> {
        let sorted = self
            .blocks
            .iter()
            .flatten()
            .zip(self.blocks.iter().flatten().skip(1))
            .all(|(a, b)| key(a) <= key(b));
        if sorted {
            return self.blocks.into_iter().flatten();
        }
        let mut all: Vec<T> = self.blocks.into_iter().flatten().collect();
        all.sort_by_key(key);
        vec![all].into_iter().flatten()
    }
}

/// Merges lists that are each ordered by `key` into one ordered list (ties: the earlier
/// list first, like a stable sort of their concatenation).
pub(super) fn merge_by_key<T, K: Ord + Copy, I: Iterator<Item = T>>(
    lists: Vec<I>,
    key: impl Fn(&T) -> K,
) -> impl Iterator<Item = T> {
    let mut heads: Vec<std::iter::Peekable<I>> =
        lists.into_iter().map(Iterator::peekable).collect();
    let mut heap: std::collections::BinaryHeap<std::cmp::Reverse<(K, usize)>> = heads
        .iter_mut()
        .enumerate()
        .filter_map(|(i, h)| h.peek().map(|x| std::cmp::Reverse((key(x), i))))
        .collect();
    std::iter::from_fn(move || {
        let std::cmp::Reverse((_, i)) = heap.pop()?;
        let item = heads[i].next()?;
        if let Some(next) = heads[i].peek() {
            heap.push(std::cmp::Reverse((key(next), i)));
        }
        Some(item)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_is_a_stable_sort_of_the_concatenation() {
        let lists = vec![
            vec![(1, 'a'), (3, 'a'), (3, 'b'), (9, 'a')],
            vec![],
            vec![(0, 'c'), (3, 'c'), (10, 'c')],
            vec![(3, 'd')],
        ];
        let mut want: Vec<(i32, char)> = lists.iter().flatten().copied().collect();
        want.sort_by_key(|x| x.0);
        let got: Vec<_> =
            merge_by_key(lists.into_iter().map(Vec::into_iter).collect(), |x| x.0).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn blocks_keep_order_and_sort_when_needed() {
        let mut b = Blocks::default();
        let n = Blocks::<(u64, u64)>::BLOCK * 2 + 5;
        for i in 0..n as u64 {
            b.push((i / 3, i));
        }
        assert_eq!(b.len(), n);
        assert_eq!(b.blocks.len(), 3);
        let got: Vec<_> = b.into_sorted_iter(|x| x.0).collect();
        assert_eq!(got.len(), n);
        assert!(got.windows(2).all(|w| w[0].1 + 1 == w[1].1));

        // Out of order (a damaged file's times): sorted, stable for equal keys.
        let mut b = Blocks::default();
        for x in [(5, 0), (1, 1), (5, 2), (0, 3)] {
            b.push(x);
        }
        let got: Vec<_> = b.into_sorted_iter(|x| x.0).collect();
        assert_eq!(got, [(0, 3), (1, 1), (5, 0), (5, 2)]);
    }
}
