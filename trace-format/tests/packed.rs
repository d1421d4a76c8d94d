//! The compact stack and symbol records (`Meta::PackedStacks`, `Meta::PackedSymbols`) in
//! whole traces: the reader serves them as it serves the plain ones, warns (never panics)
//! about stacks it cannot build, counts where a file's bytes go, and the text form gives
//! them back byte for byte.

use trace_format::pack::{StackPacker, pack_symbols};
use trace_format::{
    Event, Meta, PackedStack, StackDef, StackId, Symbols, TaskId, Trace, Warning,
    build::TraceBuilder, text,
};

fn dump(bytes: &[u8]) -> String {
    let mut out = Vec::new();
    text::dump(bytes, &mut out).expect("dumps");
    String::from_utf8(out).expect("the text is UTF-8")
}

fn stacks() -> Vec<StackDef> {
    let outer = [0x5555_0000_4040u64, 0x5555_0000_3030, 0x5555_0000_2020];
    let with = |leaf: &[u64], id: u32| StackDef {
        id,
        frames: leaf.iter().chain(&outer).copied().collect(),
    };
    vec![
        with(&[0x5555_0000_1010], 1),
        with(&[0x5555_0000_1018], 2),
        with(&[0x5555_0000_9000, 0x5555_0000_1020], 3),
        StackDef {
            id: 4,
            frames: vec![],
        },
        StackDef {
            id: 5,
            frames: vec![0x7f00_0000_0001],
        },
    ]
}

fn packed_trace() -> (TraceBuilder, Vec<StackDef>) {
    let defs = stacks();
    let mut packer = StackPacker::default();
    let mut b = TraceBuilder::new();
    // Two records: the second builds on the first.
    b.meta(Meta::PackedStacks(packer.pack(&defs[..2])));
    b.meta(Meta::PackedStacks(packer.pack(&defs[2..])));
    b.meta(Meta::PackedSymbols(pack_symbols(&Symbols::build([
        (
            0x5555_0000_1010u64,
            vec![
                ("app::inner", Some("/home/u/app/src/a.rs"), 3, 9),
                ("app::burn_cpu", Some("/home/u/app/src/a.rs"), 12, 5),
            ],
        ),
        (0x5555_0000_2020, vec![("main", None, 0, 0)]),
    ]))));
    b.thread(1, "worker-0");
    for (t, id) in [(10, 1), (20, 3), (30, 5)] {
        b.push(
            1,
            t,
            Event::CpuSample {
                task: TaskId(1),
                stack: StackId(id),
            },
        );
    }
    (b, defs)
}

#[test]
fn packed_records_read_back_like_plain_ones() {
    let (b, defs) = packed_trace();
    let trace = Trace::from_bytes(b.to_bytes()).unwrap();
    assert!(trace.warnings().is_empty(), "{:?}", trace.warnings());
    let code = trace.code();
    for d in &defs {
        assert_eq!(
            code.stack(StackId(d.id)),
            Some(d.frames.as_slice()),
            "stack {}",
            d.id
        );
    }
    let names: Vec<_> = code
        .frames_at(0x5555_0000_1010)
        .map(|f| f.function)
        .collect();
    assert_eq!(names, ["app::inner", "app::burn_cpu"]);
    let f = code.frames_at(0x5555_0000_1010).next().unwrap();
    assert_eq!(f.file, Some("/home/u/app/src/a.rs"));
    assert_eq!(code.resolved_count(), 2);
}

#[test]
fn packed_records_round_trip_through_the_text_form() {
    let (b, _) = packed_trace();
    let bytes = b.to_bytes();
    let t = dump(&bytes);
    let back = text::undump(&t).unwrap_or_else(|e| panic!("{e}\n{t}"));
    assert!(back == bytes, "bytes differ after undump; text:\n{t}");
    assert_eq!(dump(&back), t);
    for want in [
        "packed_stacks\n",
        "packed_stack id=2 base=1 shared=3 frames=0x555500001018,0x555500004040,",
        "packed_stack id=4 base=0 shared=0\n",
        "packed_symbols\n",
        "symbol addr=0x555500001010 function=\"app::inner\"",
    ] {
        assert!(t.contains(want), "missing {want:?} in\n{t}");
    }
    assert!(!t.contains("frame kind="), "a record was kept raw:\n{t}");
}

#[test]
fn the_text_form_refuses_a_packed_stack_on_an_unknown_base() {
    let t = "packed_stacks\npacked_stack id=2 base=1 shared=1 frames=0x10,0x20\n";
    let e = text::undump(t).unwrap_err();
    assert_eq!(e.line, 2);
    assert!(e.message.contains("not defined"), "{e}");
    let t = "stacks\nstack id=1 frames=0x30\npacked_stacks\npacked_stack id=2 base=1 shared=1 frames=0x10,0x20\n";
    let e = text::undump(t).unwrap_err();
    assert!(e.message.contains("are not the last"), "{e}");
}

#[test]
fn a_stack_built_on_an_undefined_stack_is_a_warning_not_a_panic() {
    let mut b = TraceBuilder::new();
    b.meta(Meta::PackedStacks(vec![
        PackedStack {
            id_delta: 7,
            base_back: 3,
            shared: 2,
            own: vec![4],
        },
        PackedStack {
            id_delta: 1,
            base_back: 0,
            shared: 0,
            own: vec![0x1000],
        },
    ]));
    let trace = Trace::from_bytes(b.to_bytes()).unwrap();
    let bad: Vec<_> = trace
        .warnings()
        .iter()
        .filter(|w| matches!(w, Warning::BadCode { .. }))
        .collect();
    assert_eq!(bad.len(), 1, "{:?}", trace.warnings());
    let message = bad[0].to_string();
    assert!(
        message.contains("stack 7 builds on stack 4, which is not defined"),
        "{message}"
    );
    assert!(!bad[0].is_benign());
    assert_eq!(trace.code().stack(StackId(7)), None);
    assert_eq!(trace.code().stack(StackId(8)), Some(&[0x1000][..]));
}

#[test]
fn a_damaged_symbol_table_is_a_warning() {
    let mut b = TraceBuilder::new();
    let mut p = pack_symbols(&Symbols::build([(1u64, vec![("f", None, 0, 0)])]));
    p.deflated.truncate(p.deflated.len() / 2);
    b.meta(Meta::PackedSymbols(p));
    let trace = Trace::from_bytes(b.to_bytes()).unwrap();
    assert!(
        trace
            .warnings()
            .iter()
            .any(|w| matches!(w, Warning::BadCode { .. })),
        "{:?}",
        trace.warnings()
    );
    assert!(!trace.code().has_symbols());
}

#[test]
fn file_bytes_add_up_to_the_file() {
    let (b, _) = packed_trace();
    let trace = Trace::from_bytes(b.to_bytes()).unwrap();
    let fb = trace.file_bytes();
    let meta: u64 = fb.meta.values().map(|&(_, bytes)| bytes).sum();
    assert_eq!(
        fb.framing + fb.events + meta + fb.unknown,
        trace.valid_len()
    );
    assert_eq!(fb.meta["stacks"].0, 2);
    assert_eq!(fb.meta["symbols"].0, 1);
    assert!(fb.meta_bytes("stacks") > 0 && fb.events > 0);
    assert_eq!(fb.meta_bytes("mappings"), 0);
}
