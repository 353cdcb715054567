//! The read planner, pure: merges a device's mapped registers into the fewest Modbus requests
//! (per table, within the request limits and a maximum gap of unused addresses) and cuts each
//! answer back into one raw value per variable.

use crate::device::{ModbusTable, PollClass, RawValue, RegisterRead};

use super::pdu::{MAX_READ_BITS, MAX_READ_REGISTERS};

/// Default `max_read_gap`: on a 9,600 baud line a request and its framing cost about as much
/// wire time as ten unused registers, so wider gaps are cheaper as two requests.
pub const DEFAULT_MAX_READ_GAP: u16 = 10;

/// How far the planner may merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanLimits {
    /// Most unused registers (or bits) one request may span between two variables.
    pub max_gap: u16,
    /// Most registers per FC03/FC04 request.
    pub max_registers: u16,
    /// Most bits per FC01/FC02 request.
    pub max_bits: u16,
}

impl PlanLimits {
    /// The protocol's request limits with `max_gap`.
    pub fn with_gap(max_gap: u16) -> PlanLimits {
        PlanLimits {
            max_gap,
            max_registers: MAX_READ_REGISTERS,
            max_bits: MAX_READ_BITS,
        }
    }

    fn max_count(&self, table: ModbusTable) -> u16 {
        match table {
            ModbusTable::Coil | ModbusTable::DiscreteInput => self.max_bits,
            ModbusTable::InputRegister | ModbusTable::HoldingRegister => self.max_registers,
        }
    }
}

impl Default for PlanLimits {
    fn default() -> Self {
        PlanLimits::with_gap(DEFAULT_MAX_READ_GAP)
    }
}

/// Where one variable sits inside a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub var: usize,
    /// From the block's first address.
    pub offset: u16,
    pub count: u16,
}

/// One read request covering one or more variables of one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadBlock {
    pub table: ModbusTable,
    pub address: u16,
    pub count: u16,
    pub slots: Vec<Slot>,
}

impl ReadBlock {
    /// Cuts the block's answer into each variable's raw value; `None` when the answer does not
    /// have the block's shape (a codec bug or a lying device, never a panic).
    pub fn split(&self, value: &RawValue) -> Option<Vec<(usize, RawValue)>> {
        let span = |slot: &Slot| {
            let start = usize::from(slot.offset);
            start..start + usize::from(slot.count)
        };
        let bits = matches!(self.table, ModbusTable::Coil | ModbusTable::DiscreteInput);
        match value {
            RawValue::Registers(regs) if !bits && regs.len() == usize::from(self.count) => self
                .slots
                .iter()
                .map(|s| Some((s.var, RawValue::Registers(regs.get(span(s))?.to_vec()))))
                .collect(),
            RawValue::Bits(values) if bits && values.len() == usize::from(self.count) => self
                .slots
                .iter()
                .map(|s| Some((s.var, RawValue::Bits(values.get(span(s))?.to_vec()))))
                .collect(),
            _ => None,
        }
    }

    /// Whether the block reads any address `other` reads, in the same table.
    pub fn overlaps(&self, other: &ReadBlock) -> bool {
        let span = |b: &ReadBlock| {
            let start = u32::from(b.address);
            (start, start + u32::from(b.count))
        };
        let ((a0, a1), (b0, b1)) = (span(self), span(other));
        self.table == other.table && a0 < b1 && b0 < a1
    }

    /// One block per variable, for a device that refuses the merged read.
    pub fn into_singles(self) -> Vec<ReadBlock> {
        let (table, address) = (self.table, self.address);
        self.slots
            .into_iter()
            .map(|slot| ReadBlock {
                table,
                // ok: offset + count stayed within the block, which fits the address space.
                address: address.saturating_add(slot.offset),
                count: slot.count,
                slots: vec![Slot {
                    var: slot.var,
                    offset: 0,
                    count: slot.count,
                }],
            })
            .collect()
    }
}

/// The requests for a set of reads.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Ordered by table, then address.
    pub blocks: Vec<ReadBlock>,
    /// Variables no single request can read: empty, longer than the request limit, or running
    /// past address 65535. The template checks should make this empty.
    pub unreadable: Vec<usize>,
}

/// Plans `reads`, merging where `limits` allow.
pub fn plan<'a>(reads: impl IntoIterator<Item = &'a RegisterRead>, limits: &PlanLimits) -> Plan {
    let mut out = Plan::default();
    let mut sorted: Vec<&RegisterRead> = Vec::new();
    for read in reads {
        let end = u32::from(read.address) + u32::from(read.count);
        if read.count == 0 || read.count > limits.max_count(read.table) || end > 0x1_0000 {
            out.unreadable.push(read.var);
        } else {
            sorted.push(read);
        }
    }
    sorted.sort_by_key(|r| (r.table, r.address, r.var));
    // The block being grown: table, first address, end (exclusive), its reads.
    let mut open: Option<(ModbusTable, u32, u32, Vec<&RegisterRead>)> = None;
    for read in sorted {
        let start = u32::from(read.address);
        let end = start + u32::from(read.count);
        if let Some((table, first, last, members)) = &mut open {
            let fits_gap = start <= *last + u32::from(limits.max_gap);
            let fits_size = end.max(*last) - *first <= u32::from(limits.max_count(*table));
            if *table == read.table && fits_gap && fits_size {
                *last = (*last).max(end);
                members.push(read);
                continue;
            }
        }
        if let Some(done) = open.take() {
            out.blocks.push(block(done));
        }
        open = Some((read.table, start, end, vec![read]));
    }
    if let Some(done) = open {
        out.blocks.push(block(done));
    }
    out
}

fn block((table, first, last, members): (ModbusTable, u32, u32, Vec<&RegisterRead>)) -> ReadBlock {
    // ok to narrow: plan() only admits reads inside 0..=0xFFFF whose span fits a request.
    let address = first as u16;
    ReadBlock {
        table,
        address,
        count: (last - first) as u16,
        slots: members
            .iter()
            .map(|r| Slot {
                var: r.var,
                offset: r.address - address,
                count: r.count,
            })
            .collect(),
    }
}

/// A device's two plans: every poll reads the fast class; when the slow class is due too, both
/// are read with one plan so neighbours of different classes still share requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePlans {
    /// Fast-class variables only.
    pub fast: Plan,
    /// Every variable.
    pub all: Plan,
}

impl DevicePlans {
    /// Replaces every merged block of `plan` that overlaps `refused` with single reads.
    pub fn split_overlapping(plan: &mut Plan, refused: &ReadBlock) {
        let blocks = std::mem::take(&mut plan.blocks);
        for block in blocks {
            if block.slots.len() > 1 && block.overlaps(refused) {
                plan.blocks.extend(block.into_singles());
            } else {
                plan.blocks.push(block);
            }
        }
    }

    /// Plans `reads` for both cases.
    pub fn new(reads: &[RegisterRead], limits: &PlanLimits) -> DevicePlans {
        DevicePlans {
            fast: plan(reads.iter().filter(|r| r.class == PollClass::Fast), limits),
            all: plan(reads, limits),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ModbusTable::*;

    fn read(var: usize, table: ModbusTable, address: u16, count: u16) -> RegisterRead {
        RegisterRead {
            var,
            table,
            address,
            count,
            class: PollClass::Fast,
        }
    }

    fn spans(p: &Plan) -> Vec<(ModbusTable, u16, u16)> {
        p.blocks
            .iter()
            .map(|b| (b.table, b.address, b.count))
            .collect()
    }

    #[test]
    fn adjacent_reads_become_one_request() {
        let reads = [
            read(0, HoldingRegister, 10, 2),
            read(1, HoldingRegister, 12, 2),
            read(2, HoldingRegister, 14, 1),
        ];
        let p = plan(&reads, &PlanLimits::with_gap(0));
        assert_eq!(spans(&p), [(HoldingRegister, 10, 5)]);
        assert_eq!(
            p.blocks[0].slots,
            [
                Slot {
                    var: 0,
                    offset: 0,
                    count: 2
                },
                Slot {
                    var: 1,
                    offset: 2,
                    count: 2
                },
                Slot {
                    var: 2,
                    offset: 4,
                    count: 1
                },
            ]
        );
        assert!(p.unreadable.is_empty());
    }

    #[test]
    fn gaps_merge_up_to_the_limit() {
        // The generic template: status at 0, then 10..17.
        let reads = [
            read(0, HoldingRegister, 0, 1),
            read(1, HoldingRegister, 10, 2),
            read(2, HoldingRegister, 12, 2),
            read(3, HoldingRegister, 14, 1),
        ];
        assert_eq!(
            spans(&plan(&reads, &PlanLimits::with_gap(9))),
            [(HoldingRegister, 0, 15)]
        );
        assert_eq!(
            spans(&plan(&reads, &PlanLimits::with_gap(8))),
            [(HoldingRegister, 0, 1), (HoldingRegister, 10, 5)]
        );
    }

    #[test]
    fn order_and_overlap_do_not_matter() {
        let reads = [
            read(0, InputRegister, 20, 2),
            read(1, InputRegister, 5, 4),
            read(2, InputRegister, 6, 1),
        ];
        let p = plan(&reads, &PlanLimits::with_gap(20));
        assert_eq!(spans(&p), [(InputRegister, 5, 17)]);
        let slots: Vec<_> = p.blocks[0]
            .slots
            .iter()
            .map(|s| (s.var, s.offset))
            .collect();
        assert_eq!(slots, [(1, 0), (2, 1), (0, 15)]);
    }

    #[test]
    fn requests_never_exceed_125_registers() {
        let reads: Vec<_> = (0..100)
            .map(|i| read(i, HoldingRegister, i as u16 * 2, 2))
            .collect();
        let p = plan(&reads, &PlanLimits::with_gap(0));
        assert_eq!(
            spans(&p),
            [(HoldingRegister, 0, 124), (HoldingRegister, 124, 76)]
        );
        // A read that would straddle 125 starts the next request instead of being cut.
        let reads = [
            read(0, HoldingRegister, 0, 124),
            read(1, HoldingRegister, 124, 2),
        ];
        let p = plan(&reads, &PlanLimits::with_gap(0));
        assert_eq!(
            spans(&p),
            [(HoldingRegister, 0, 124), (HoldingRegister, 124, 2)]
        );
        let exactly = [
            read(0, HoldingRegister, 0, 123),
            read(1, HoldingRegister, 123, 2),
        ];
        assert_eq!(
            spans(&plan(&exactly, &PlanLimits::with_gap(0))),
            [(HoldingRegister, 0, 125)]
        );
    }

    #[test]
    fn bits_merge_up_to_2000() {
        let reads = [
            read(0, Coil, 0, 1),
            read(1, Coil, 5, 1),
            read(2, Coil, 1999, 1),
            read(3, Coil, 2000, 1),
        ];
        let p = plan(&reads, &PlanLimits::with_gap(2000));
        assert_eq!(spans(&p), [(Coil, 0, 2000), (Coil, 2000, 1)]);
    }

    #[test]
    fn tables_are_never_mixed() {
        let reads = [
            read(0, HoldingRegister, 0, 1),
            read(1, InputRegister, 1, 1),
            read(2, Coil, 0, 1),
            read(3, DiscreteInput, 1, 1),
            read(4, HoldingRegister, 1, 1),
        ];
        let p = plan(&reads, &PlanLimits::with_gap(10));
        assert_eq!(
            spans(&p),
            [
                (Coil, 0, 1),
                (DiscreteInput, 1, 1),
                (InputRegister, 1, 1),
                (HoldingRegister, 0, 2)
            ]
        );
    }

    #[test]
    fn classes_are_planned_apart_and_together() {
        let mut reads = vec![
            read(0, HoldingRegister, 0, 1),
            read(1, HoldingRegister, 1, 2),
            read(2, HoldingRegister, 3, 1),
            read(3, HoldingRegister, 60, 2),
        ];
        reads[1].class = PollClass::Slow;
        reads[3].class = PollClass::Slow;
        let plans = DevicePlans::new(&reads, &PlanLimits::with_gap(0));
        assert_eq!(
            spans(&plans.fast),
            [(HoldingRegister, 0, 1), (HoldingRegister, 3, 1)]
        );
        assert_eq!(
            spans(&plans.all),
            [(HoldingRegister, 0, 4), (HoldingRegister, 60, 2)]
        );
        let only_slow: Vec<_> = reads
            .iter()
            .filter(|r| r.class == PollClass::Slow)
            .cloned()
            .collect();
        assert!(DevicePlans::new(&only_slow, &PlanLimits::default())
            .fast
            .blocks
            .is_empty());
    }

    #[test]
    fn unreadable_reads_are_set_aside() {
        let reads = [
            read(0, HoldingRegister, 0, 126),
            read(1, HoldingRegister, 0xFFFF, 2),
            read(2, Coil, 0, 0),
            read(3, HoldingRegister, 0xFFFF, 1),
        ];
        let p = plan(&reads, &PlanLimits::default());
        assert_eq!(p.unreadable, [0, 1, 2]);
        assert_eq!(spans(&p), [(HoldingRegister, 0xFFFF, 1)]);
    }

    #[test]
    fn answers_split_back_per_variable() {
        let reads = [
            read(0, HoldingRegister, 0, 1),
            read(1, HoldingRegister, 3, 2),
        ];
        let p = plan(&reads, &PlanLimits::default());
        let block = &p.blocks[0];
        let answer = RawValue::Registers(vec![7, 0, 0, 8, 9]);
        assert_eq!(
            block.split(&answer).unwrap(),
            [
                (0, RawValue::Registers(vec![7])),
                (1, RawValue::Registers(vec![8, 9]))
            ]
        );
        assert_eq!(block.split(&RawValue::Registers(vec![7, 0])), None);
        assert_eq!(block.split(&RawValue::Bits(vec![true; 5])), None);

        let bits = plan(
            &[read(4, Coil, 2, 1), read(5, Coil, 4, 2)],
            &PlanLimits::default(),
        );
        assert_eq!(
            bits.blocks[0]
                .split(&RawValue::Bits(vec![true, false, true, false]))
                .unwrap(),
            [
                (4, RawValue::Bits(vec![true])),
                (5, RawValue::Bits(vec![true, false]))
            ]
        );
    }

    #[test]
    fn overlapping_merged_blocks_split_in_the_other_plan() {
        let reads = [
            read(0, InputRegister, 0, 1),
            read(1, InputRegister, 3, 1),
            read(2, InputRegister, 40, 1),
            read(3, InputRegister, 42, 1),
            read(4, HoldingRegister, 0, 1),
            read(5, HoldingRegister, 2, 1),
        ];
        let mut p = plan(&reads, &PlanLimits::default());
        let refused = ReadBlock {
            table: InputRegister,
            address: 1,
            count: 3,
            slots: Vec::new(),
        };
        DevicePlans::split_overlapping(&mut p, &refused);
        assert_eq!(
            spans(&p),
            [
                (InputRegister, 0, 1),
                (InputRegister, 3, 1),
                (InputRegister, 40, 3),
                (HoldingRegister, 0, 3)
            ]
        );
    }

    #[test]
    fn a_refused_block_splits_into_single_reads() {
        let reads = [read(0, InputRegister, 4, 2), read(1, InputRegister, 9, 1)];
        let p = plan(&reads, &PlanLimits::default());
        let singles = p.blocks[0].clone().into_singles();
        let spans: Vec<_> = singles
            .iter()
            .map(|b| (b.address, b.count, b.slots[0].var))
            .collect();
        assert_eq!(spans, [(4, 2, 0), (9, 1, 1)]);
    }
}
