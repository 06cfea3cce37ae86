//! safetensors: bit-exact round trips, the reference layout, and every malformed input as a
//! typed error (never a panic).

mod common;

use common::temp_dir;
use grad_instructor::io::safetensors::{
    from_bytes, load, save, to_bytes, Weights, MAX_HEADER_BYTES,
};
use grad_instructor::{Error, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::Path;

fn origin() -> &'static Path {
    Path::new("test.safetensors")
}

fn t(data: &[f32], dims: &[usize]) -> Tensor {
    Tensor::from_vec(data.to_vec(), dims).unwrap()
}

/// A file from a literal header and data section (no padding added).
fn file(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

fn format_reason(r: grad_instructor::Result<Weights>) -> String {
    match r {
        Err(Error::Format { reason, .. }) => reason,
        other => panic!("expected a Format error, got {other:?}"),
    }
}

fn bits(t: &Tensor) -> Vec<u32> {
    t.data().iter().map(|x| x.to_bits()).collect()
}

// ---- round trips ----

#[test]
fn round_trip_is_bit_exact_for_special_values_and_ranks_0_to_4() {
    let special = [
        f32::from_bits(0x7fc0_0001), // quiet NaN with a payload
        f32::from_bits(0x7f80_0001), // signalling NaN pattern
        f32::from_bits(0xffff_ffff), // negative NaN, all payload bits set
        -0.0,
        0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::from_bits(1), // smallest subnormal
        f32::MIN_POSITIVE,
        f32::MAX,
        f32::MIN,
        1.0 / 3.0,
    ];
    let mut rng = StdRng::seed_from_u64(11);
    let mut random = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|i| {
                if i < special.len() {
                    special[i]
                } else {
                    f32::from_bits(rng.gen())
                }
            })
            .collect()
    };
    let tensors = vec![
        ("rank0", t(&random(1), &[])),
        ("rank1", t(&random(13), &[13])),
        ("rank2", t(&random(12), &[3, 4])),
        ("rank3", t(&random(30), &[2, 3, 5])),
        ("rank4", t(&random(210), &[2, 3, 5, 7])),
        ("empty", t(&[], &[0, 4])),
        ("name with \"quotes\", \\ and ünïcode", t(&random(2), &[2])),
    ];
    let refs: Vec<(&str, &Tensor)> = tensors.iter().map(|(n, t)| (*n, t)).collect();
    let meta = [("epoch", "3"), ("note", "line\nbreak \"quoted\" ✓")];
    let bytes = to_bytes(&refs, &meta).unwrap();
    let w = from_bytes(&bytes, origin()).unwrap();
    assert_eq!(w.tensors.len(), tensors.len());
    for (name, orig) in &tensors {
        let got = w.get(name).unwrap();
        assert_eq!(got.dims(), orig.dims(), "{name}");
        assert_eq!(bits(got), bits(orig), "{name}");
    }
    assert_eq!(w.meta("note"), Some("line\nbreak \"quoted\" ✓"));
    assert_eq!(w.meta("epoch"), Some("3"));
    // Writing what was read gives the same bytes again.
    let back: Vec<(&str, &Tensor)> = w.tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let meta_back: Vec<(&str, &str)> = w
        .metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(to_bytes(&back, &meta_back).unwrap(), bytes);
}

#[test]
fn bytes_are_deterministic_sorted_and_8_byte_aligned() {
    let a = t(&[1.0, 2.0], &[2]);
    let b = t(&[3.0], &[1, 1]);
    let x = to_bytes(&[("b", &b), ("a", &a)], &[("z", "1"), ("y", "2")]).unwrap();
    let y = to_bytes(&[("a", &a), ("b", &b)], &[("y", "2"), ("z", "1")]).unwrap();
    assert_eq!(x, y);
    let n = u64::from_le_bytes(x[..8].try_into().unwrap()) as usize;
    assert_eq!(n % 8, 0);
    let header = std::str::from_utf8(&x[8..8 + n]).unwrap();
    assert!(header.find("\"a\"").unwrap() < header.find("\"b\"").unwrap());
    // Data in name order: a's two values, then b's.
    let data: Vec<f32> = x[8 + n..]
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(data, vec![1.0, 2.0, 3.0]);
}

#[test]
fn writer_matches_the_reference_layout_byte_for_byte() {
    // The JSON of huggingface/safetensors bindings/python/tests/test_simple.py
    // ("test_deserialization_with_metadata") with dtype I32 changed to F32: metadata first,
    // fields in the order dtype, shape, data_offsets, no spaces. The current reference
    // writer pads the header with spaces to a multiple of 8 (95 bytes of JSON here, so one
    // space: 96).
    let json = r#"{"__metadata__":{"framework":"pt"},"test1":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#;
    assert_eq!(json.len(), 95);
    let mut expected = 96u64.to_le_bytes().to_vec();
    expected.extend_from_slice(json.as_bytes());
    expected.push(b' ');
    for v in [1.0f32, 2.0, 3.0, 4.0] {
        expected.extend_from_slice(&v.to_le_bytes());
    }
    let x = t(&[1.0, 2.0, 3.0, 4.0], &[2, 2]);
    assert_eq!(
        to_bytes(&[("test1", &x)], &[("framework", "pt")]).unwrap(),
        expected
    );
}

#[test]
fn reader_accepts_the_reference_test_file_with_unaligned_padding() {
    // That Python test's own bytes pad the 95-byte JSON with 7 spaces (N = 102, not a
    // multiple of 8) over 16 zero bytes; alignment is not required to read.
    let json = r#"{"__metadata__":{"framework":"pt"},"test1":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}       "#;
    assert_eq!(json.len(), 0x66);
    let w = from_bytes(&file(json, &[0; 16]), origin()).unwrap();
    assert_eq!(w.get("test1").unwrap().data(), &[0.0; 4]);
    assert_eq!(w.meta("framework"), Some("pt"));
}

#[test]
fn reader_accepts_other_field_orders_and_whitespace() {
    let header = "{ \"w\" : { \"data_offsets\" : [0, 8], \"shape\": [2], \"dtype\": \"F32\" } }   ";
    let w = from_bytes(&file(header, &[0, 0, 128, 63, 0, 0, 0, 64]), origin()).unwrap();
    assert_eq!(w.get("w").unwrap().data(), &[1.0, 2.0]);
    assert!(w.metadata.is_empty());
}

#[test]
fn save_and_load_a_file() {
    let p = temp_dir("save").join("w.safetensors");
    let x = t(&[1.5, -2.5, 0.25], &[3, 1]);
    save(&p, &[("x", &x)], &[("k", "v")]).unwrap();
    let mut w = load(&p).unwrap();
    assert_eq!(w.take("x", &[3, 1]).unwrap(), x);
    assert_eq!(w.meta("k"), Some("v"));
    std::fs::remove_dir_all(p.parent().unwrap()).unwrap();
    assert!(matches!(load(&p), Err(Error::Io { .. })));
}

#[test]
fn weights_get_and_take_check_names_and_shapes() {
    let x = t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    let mut w = from_bytes(&to_bytes(&[("x", &x)], &[]).unwrap(), origin()).unwrap();
    let e = w.get("y").unwrap_err();
    assert!(
        e.to_string().contains("\"y\"") && e.to_string().contains("x"),
        "{e}"
    );
    assert!(matches!(w.take("x", &[3, 2]), Err(Error::Shape { .. })));
    assert_eq!(
        w.tensors.len(),
        1,
        "a failed take must not remove the tensor"
    );
    assert!(w.take("nope", &[2, 3]).is_err());
    assert_eq!(w.take("x", &[2, 3]).unwrap(), x);
    assert!(w.get("x").is_err());
}

#[test]
fn writer_rejects_duplicate_and_reserved_names() {
    let x = t(&[1.0], &[1]);
    assert!(matches!(
        to_bytes(&[("a", &x), ("a", &x)], &[]),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(to_bytes(&[("__metadata__", &x)], &[]).is_err());
    assert!(to_bytes(&[("a", &x)], &[("k", "1"), ("k", "2")]).is_err());
}

// ---- malformed files ----

const ONE: &[u8] = &[0, 0, 128, 63]; // 1.0f32, little-endian

#[test]
fn too_short_or_empty_is_an_error() {
    for len in 0..8 {
        let r = format_reason(from_bytes(&vec![0u8; len], origin()));
        assert!(r.contains("too short"), "{r}");
    }
}

#[test]
fn header_length_beyond_cap_or_file_is_an_error() {
    let mut b = (MAX_HEADER_BYTES + 1).to_le_bytes().to_vec();
    b.extend_from_slice(b"{}");
    assert!(format_reason(from_bytes(&b, origin())).contains("limit"));
    let mut b = u64::MAX.to_le_bytes().to_vec();
    b.extend_from_slice(b"{}");
    assert!(format_reason(from_bytes(&b, origin())).contains("limit"));
    let mut b = 100u64.to_le_bytes().to_vec();
    b.extend_from_slice(b"{}");
    let r = format_reason(from_bytes(&b, origin()));
    assert!(r.contains("exceeds the 2 bytes"), "{r}");
}

#[test]
fn invalid_utf8_or_json_or_non_object_header_is_an_error() {
    let mut bad_utf8 = file("{\"a\": 1}", &[]);
    bad_utf8[10] = 0xff;
    assert!(format_reason(from_bytes(&bad_utf8, origin())).contains("UTF-8"));
    for header in ["{", "{\"a\": }", "", "nul", "{\"a\":{\"dtype\":\"F32\",}}"] {
        let r = format_reason(from_bytes(&file(header, &[]), origin()));
        assert!(r.contains("not valid JSON"), "{header}: {r}");
    }
    for header in ["[]", "3", "\"x\"", "null"] {
        let r = format_reason(from_bytes(&file(header, &[]), origin()));
        assert!(r.contains("not a JSON object"), "{header}: {r}");
    }
}

#[test]
fn non_f32_dtype_is_an_error_naming_it() {
    for dtype in ["F16", "BF16", "F64", "I32", "U8", "BOOL", "f32"] {
        let header = format!(r#"{{"w":{{"dtype":"{dtype}","shape":[1],"data_offsets":[0,4]}}}}"#);
        let r = format_reason(from_bytes(&file(&header, ONE), origin()));
        assert!(
            r.contains(&format!("dtype {dtype} is not supported")),
            "{r}"
        );
    }
    let r = format_reason(from_bytes(
        &file(r#"{"w":{"dtype":3,"shape":[1],"data_offsets":[0,4]}}"#, ONE),
        origin(),
    ));
    assert!(r.contains("not a string"), "{r}");
}

#[test]
fn malformed_tensor_entries_are_errors() {
    let cases = [
        (r#"{"w":3}"#, "not an object"),
        (
            r#"{"w":{"shape":[1],"data_offsets":[0,4]}}"#,
            "missing dtype",
        ),
        (r#"{"w":{"dtype":"F32","data_offsets":[0,4]}}"#, "shape"),
        (r#"{"w":{"dtype":"F32","shape":[1]}}"#, "data_offsets"),
        (
            r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}}"#,
            "data_offsets",
        ),
        (
            r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}"#,
            "data_offsets",
        ),
        (
            r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[-1,4]}}"#,
            "non-negative",
        ),
        (
            r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4.0]}}"#,
            "non-negative",
        ),
        (
            r#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#,
            "not a non-negative",
        ),
        (
            r#"{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#,
            "not a non-negative",
        ),
        (
            r#"{"w":{"dtype":"F32","shape":[1e30],"data_offsets":[0,4]}}"#,
            "not a non-negative",
        ),
        (
            r#"{"w":{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}}"#,
            "not a non-negative",
        ),
        (
            r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1}}"#,
            "unknown field",
        ),
        (
            r#"{"w":{"dtype":"F32","shape":[1,1,1,1,1],"data_offsets":[0,4]}}"#,
            "rank 5",
        ),
    ];
    for (header, want) in cases {
        let r = format_reason(from_bytes(&file(header, ONE), origin()));
        assert!(r.contains(want), "{header}: {r}");
    }
}

#[test]
fn shape_product_overflow_is_an_error() {
    let big = u64::MAX / 2;
    for shape in [
        format!("[{big},4]"),
        "[4294967296,4294967296,4294967296]".to_string(),
        format!("[{}]", u64::MAX / 4 + 1),
    ] {
        let header = format!(r#"{{"w":{{"dtype":"F32","shape":{shape},"data_offsets":[0,4]}}}}"#);
        let r = format_reason(from_bytes(&file(&header, ONE), origin()));
        assert!(r.contains("overflows"), "{shape}: {r}");
    }
}

#[test]
fn inconsistent_or_out_of_range_offsets_are_errors() {
    let cases = [
        // Span does not match shape * 4.
        (
            r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#,
            "needs 8",
        ),
        // End past the data section.
        (
            r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
            "outside",
        ),
        // Begin after end.
        (
            r#"{"w":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}"#,
            "outside",
        ),
        // A huge declared tensor over a 4-byte data section: refused, nothing allocated.
        (
            r#"{"w":{"dtype":"F32","shape":[1000000000],"data_offsets":[0,4000000000]}}"#,
            "outside",
        ),
    ];
    for (header, want) in cases {
        let r = format_reason(from_bytes(&file(header, ONE), origin()));
        assert!(r.contains(want), "{header}: {r}");
    }
}

#[test]
fn overlapping_gapped_or_unreferenced_data_is_an_error() {
    let eight = [ONE, ONE].concat();
    let twelve = [ONE, ONE, ONE].concat();
    let cases: [(&str, &[u8], &str); 5] = [
        (
            r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
            ONE,
            "overlaps",
        ),
        (
            r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
            &eight,
            "overlaps",
        ),
        (
            r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#,
            &twelve,
            "gap",
        ),
        (
            r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
            &eight,
            "gap",
        ),
        (
            r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
            &eight,
            "referenced by no tensor",
        ),
    ];
    for (header, data, want) in cases {
        let r = format_reason(from_bytes(&file(header, data), origin()));
        assert!(r.contains(want), "{header}: {r}");
    }
    // An empty header over data bytes: all unreferenced.
    let r = format_reason(from_bytes(&file("{}", ONE), origin()));
    assert!(r.contains("referenced by no tensor"), "{r}");
    // Zero-length tensors at the same offset do not overlap anything.
    let ok = r#"{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"c":{"dtype":"F32","shape":[0,3],"data_offsets":[4,4]}}"#;
    assert_eq!(
        from_bytes(&file(ok, ONE), origin()).unwrap().tensors.len(),
        3
    );
}

#[test]
fn duplicate_names_are_an_error() {
    let header = r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#;
    let r = format_reason(from_bytes(&file(header, &[ONE, ONE].concat()), origin()));
    assert!(r.contains("duplicate key \"a\""), "{r}");
    // Also inside an entry, and in the metadata.
    let header = r#"{"a":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}}"#;
    assert!(format_reason(from_bytes(&file(header, ONE), origin())).contains("duplicate"));
    let header = r#"{"__metadata__":{"k":"1","k":"2"}}"#;
    assert!(format_reason(from_bytes(&file(header, &[]), origin())).contains("duplicate"));
}

#[test]
fn non_string_metadata_is_an_error() {
    for header in [r#"{"__metadata__":{"k":1}}"#, r#"{"__metadata__":[]}"#] {
        assert!(
            from_bytes(&file(header, &[]), origin()).is_err(),
            "{header}"
        );
    }
}

#[test]
fn every_truncation_and_single_byte_corruption_gives_a_result_not_a_panic() {
    let a = t(&[1.0, -2.0, 3.5], &[3]);
    let b = t(&[0.5; 8], &[2, 2, 2]);
    let good = to_bytes(&[("a", &a), ("bb", &b)], &[("k", "v")]).unwrap();
    // Any proper prefix loses data or header: always an error.
    for cut in 0..good.len() {
        assert!(from_bytes(&good[..cut], origin()).is_err(), "cut at {cut}");
    }
    // Flipping any bit must give Ok (a data byte, a harmless space) or Err, never a panic;
    // in the length field and header it is nearly always an error.
    let mut errors = 0;
    for i in 0..good.len() {
        for bit in 0..8 {
            let mut b = good.clone();
            b[i] ^= 1 << bit;
            errors += from_bytes(&b, origin()).is_err() as usize;
        }
    }
    assert!(errors > 0);
}

// ---- interop with the reference implementation, when it is installed ----

/// Runs `python3 -c code args..`; `None` when python3 or its `safetensors` and `numpy`
/// packages are missing (the test then says so and checks nothing else).
fn python(code: &str, args: &[&Path]) -> Option<std::process::Output> {
    let probe = std::process::Command::new("python3")
        .args(["-c", "import safetensors.numpy, numpy"])
        .output()
        .ok()?;
    if !probe.status.success() {
        eprintln!("python3 with safetensors and numpy not available: interop not checked");
        return None;
    }
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(out)
}

#[test]
fn files_match_the_python_reference_in_both_directions() {
    let dir = temp_dir("interop");
    let ours = dir.join("ours.safetensors");
    let theirs = dir.join("theirs.safetensors");
    let w = t(
        &[
            1.0,
            -0.0,
            f32::from_bits(0x7fc0_0001),
            2.5,
            f32::INFINITY,
            -3.0,
        ],
        &[2, 3],
    );
    let b = t(&[0.25], &[]);
    save(&ours, &[("w", &w), ("b", &b)], &[("format", "pt")]).unwrap();
    // Python reads our file, checks it bit for bit, and writes the same tensors itself.
    let code = r#"
import sys, numpy as np
from safetensors.numpy import load_file, save_file
ours, theirs = sys.argv[1], sys.argv[2]
t = load_file(ours)
assert t["w"].dtype == np.float32 and t["w"].shape == (2, 3), t["w"]
bits = t["w"].view(np.uint32).ravel().tolist()
assert bits == [0x3f800000, 0x80000000, 0x7fc00001, 0x40200000, 0x7f800000, 0xc0400000], bits
assert t["b"].shape == () and t["b"] == np.float32(0.25)
save_file({"w": t["w"], "b": t["b"]}, theirs, metadata={"format": "pt"})
"#;
    if python(code, &[&ours, &theirs]).is_none() {
        return;
    }
    // We read theirs, and (all tensors F32) the bytes are identical to ours.
    let back = load(&theirs).unwrap();
    assert_eq!(bits(back.get("w").unwrap()), bits(&w));
    assert_eq!(back.meta("format"), Some("pt"));
    assert_eq!(
        std::fs::read(&theirs).unwrap(),
        std::fs::read(&ours).unwrap()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
