//! Hives written byte by byte, for damage that no hive writer produces: a base block, one hive
//! bin, and cells appended in order. `minimal_hive` is the hive of the upstream report
//! (`docs/upstream/nt-hive-offset-assertion.md`).

/// The offset that stands for "no cell" (HCELL_NIL).
pub const NIL: u32 = u32::MAX;

/// The hive bins of a hive being written: one bin, whose cells are appended in order.
pub struct HandHive {
    bins: Vec<u8>,
}

impl HandHive {
    pub fn new() -> HandHive {
        let mut bins = vec![0u8; 0x20];
        bins[..4].copy_from_slice(b"hbin");
        HandHive { bins }
    }

    /// Appends an allocated cell holding `data`; returns its offset from the start of the hive
    /// bins, as the hive's own fields give offsets.
    pub fn cell(&mut self, data: &[u8]) -> u32 {
        let offset = self.bins.len();
        let size = (4 + data.len()).next_multiple_of(8);
        self.bins.extend_from_slice(&(-(size as i32)).to_le_bytes());
        self.bins.extend_from_slice(data);
        self.bins.resize(offset + size, 0);
        offset as u32
    }

    /// The hive: a base block whose root cell is `root`, then the bin padded to a multiple of
    /// 4096 bytes with one free cell.
    pub fn finish(mut self, root: u32) -> Vec<u8> {
        let used = self.bins.len();
        let size = used.next_multiple_of(4096);
        if size > used {
            self.bins
                .extend_from_slice(&((size - used) as i32).to_le_bytes());
            self.bins.resize(size, 0);
        }
        self.bins[8..12].copy_from_slice(&(size as u32).to_le_bytes());
        let mut hive = vec![0u8; 4096];
        hive[..4].copy_from_slice(b"regf");
        for (at, value) in [
            (0x04, 1),           // primary sequence number
            (0x08, 1),           // secondary sequence number
            (0x14, 1),           // major version
            (0x18, 5),           // minor version
            (0x1c, 0),           // file type: primary
            (0x20, 1),           // file format: direct memory load
            (0x24, root),        // root cell offset
            (0x28, size as u32), // hive bins data size
            (0x2c, 1),           // clustering factor
        ] {
            hive[at..at + 4].copy_from_slice(&u32::to_le_bytes(value));
        }
        fix_checksum(&mut hive);
        hive.extend_from_slice(&self.bins);
        hive
    }
}

/// Stores the XOR-32 checksum of the first 508 bytes at 0x1fc.
pub fn fix_checksum(hive: &mut [u8]) {
    let sum = hive[..0x1fc].chunks_exact(4).fold(0u32, |acc, dword| {
        acc ^ u32::from_le_bytes(dword.try_into().unwrap())
    });
    let sum = match sum {
        0 => 1,
        u32::MAX => u32::MAX - 1,
        other => other,
    };
    hive[0x1fc..0x200].copy_from_slice(&sum.to_le_bytes());
}

/// A key node (`nk`) with an ASCII name, `(count, list offset)` of its subkeys and values.
pub fn key_node(name: &str, root: bool, subkeys: (u32, u32), values: (u32, u32)) -> Vec<u8> {
    let mut node = vec![0u8; 0x4c];
    node[..2].copy_from_slice(b"nk");
    // KEY_COMP_NAME, and KEY_HIVE_ENTRY | KEY_NO_DELETE for the root.
    let flags: u16 = if root { 0x2c } else { 0x20 };
    node[2..4].copy_from_slice(&flags.to_le_bytes());
    for (at, value) in [
        (0x14, subkeys.0),
        (0x1c, subkeys.1),
        (0x20, NIL), // volatile subkey list
        (0x24, values.0),
        (0x28, values.1),
        (0x2c, NIL), // security
        (0x30, NIL), // class name
    ] {
        node[at..at + 4].copy_from_slice(&value.to_le_bytes());
    }
    node[0x48..0x4a].copy_from_slice(&(name.len() as u16).to_le_bytes());
    node.extend_from_slice(name.as_bytes());
    node
}

/// A subkey list (`lf`, `lh`, `li`) of key node offsets, or an index root (`ri`) of list
/// offsets. `lf` and `lh` items carry a hint of four zero bytes.
pub fn leaf(signature: &[u8; 2], items: &[u32]) -> Vec<u8> {
    let mut list = signature.to_vec();
    list.extend_from_slice(&(items.len() as u16).to_le_bytes());
    for item in items {
        list.extend_from_slice(&item.to_le_bytes());
        if matches!(signature, b"lf" | b"lh") {
            list.extend_from_slice(&[0; 4]);
        }
    }
    list
}

/// A value record (`vk`) with an ASCII name.
pub fn value_node(name: &str, data_type: u32, data_size: u32, data_offset: u32) -> Vec<u8> {
    let mut value = b"vk".to_vec();
    value.extend_from_slice(&(name.len() as u16).to_le_bytes());
    value.extend_from_slice(&data_size.to_le_bytes());
    value.extend_from_slice(&data_offset.to_le_bytes());
    value.extend_from_slice(&data_type.to_le_bytes());
    value.extend_from_slice(&1u16.to_le_bytes()); // VALUE_COMP_NAME
    value.extend_from_slice(&[0; 2]);
    value.extend_from_slice(name.as_bytes());
    value
}

/// The hive of the upstream report: a root key whose subkey list (`lf`, one item) gives the
/// key node offset 0xffffffff. The list is the first cell (0x1020 in the file), the root key
/// the second (0x1030); base block and checksum are valid.
pub fn minimal_hive() -> Vec<u8> {
    let mut hive = HandHive::new();
    let list = hive.cell(&leaf(b"lf", &[NIL]));
    let root = hive.cell(&key_node("ROOT", true, (1, list), (0, NIL)));
    hive.finish(root)
}

/// Sets the first item of the subkey list of the key `name` (an ASCII name, unique in the hive)
/// to 0xffffffff. Only the hive bins change, so the base block stays valid.
pub fn nil_first_subkey_of(hive: &mut [u8], name: &str) {
    let found: Vec<usize> = (4096..hive.len() - 0x4c - name.len())
        .filter(|&at| {
            hive[at..at + 2] == *b"nk"
                && usize::from(u16::from_le_bytes([hive[at + 0x48], hive[at + 0x49]])) == name.len()
                && hive[at + 0x4c..at + 0x4c + name.len()] == *name.as_bytes()
        })
        .collect();
    assert_eq!(found.len(), 1, "{name}: {found:?}");
    let at = found[0] + 0x1c;
    let list = 4096 + u32::from_le_bytes(hive[at..at + 4].try_into().unwrap()) as usize + 4;
    assert!(matches!(&hive[list..list + 2], b"lf" | b"lh" | b"li"));
    hive[list + 4..list + 8].copy_from_slice(&NIL.to_le_bytes());
}
