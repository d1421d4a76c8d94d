//! Per-group indexes over a table, in the compressed sparse row layout: the rows of each
//! group as a range of one array, found through a prefix sum of the group sizes. The model
//! indexes each task's polls ([`Grouped`]) and wakes ([`group_offsets`]) this way.

/// The rows of a table ordered by group: group `g`'s are
/// `rows[offsets[g] as usize..offsets[g + 1] as usize]`, in table order.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Grouped {
    pub(super) offsets: Vec<u32>,
    pub(super) rows: Vec<u32>,
}

/// Where each of `groups` groups starts in the rows ordered by group, and where the last
/// ends: the prefix sum of the group sizes (`groups + 1` entries). `keys` yields each row's
/// group, every one below `groups`. For a table already sorted by group, the offsets alone
/// index it.
pub(super) fn group_offsets(groups: usize, keys: impl Iterator<Item = u32>) -> Vec<u32> {
    let mut offsets = vec![0u32; groups + 1];
    for k in keys {
        offsets[k as usize + 1] += 1;
    }
    for g in 0..groups {
        offsets[g + 1] += offsets[g];
    }
    offsets
}

/// The rows (indexes into the table) grouped by `keys` with a counting sort, which keeps
/// table order within a group. `keys` is read twice.
pub(super) fn group_rows(groups: usize, keys: impl Iterator<Item = u32> + Clone) -> Grouped {
    let offsets = group_offsets(groups, keys.clone());
    let mut next = offsets.clone();
    let mut rows = vec![0u32; offsets[groups] as usize];
    for (row, k) in keys.enumerate() {
        let slot = &mut next[k as usize];
        rows[*slot as usize] = row as u32;
        *slot += 1;
    }
    Grouped { offsets, rows }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_grouped_in_table_order() {
        let keys = [2, 0, 2, 3, 0, 2];
        let g = group_rows(5, keys.iter().copied());
        assert_eq!(g.offsets, [0, 2, 2, 5, 6, 6]);
        assert_eq!(g.rows, [1, 4, 0, 2, 5, 3]);
        for group in 0..5u32 {
            let rows =
                &g.rows[g.offsets[group as usize] as usize..g.offsets[group as usize + 1] as usize];
            assert!(rows.iter().all(|&r| keys[r as usize] == group));
            assert!(rows.is_sorted());
        }
    }

    #[test]
    fn offsets_of_sorted_keys_index_them() {
        assert_eq!(group_offsets(3, [0, 0, 2].into_iter()), [0, 2, 2, 3]);
        assert_eq!(group_offsets(2, std::iter::empty()), [0, 0, 0]);
        assert_eq!(group_offsets(0, std::iter::empty()), [0]);
    }
}
