//! C2SP signed-note cases from Go's reference implementation
//! (`golang.org/x/mod/sumdb/note`, BSD-3-Clause), vendored under
//! `spec/vectors/signed-note/` (see the README there).
//!
//! `go-note.txt` holds `key: value` lines and one note between
//! `-----BEGIN NOTE-----` and `-----END NOTE-----`. Every case the file
//! describes is run, and counted; the total is asserted so that a case that
//! stops being read fails the test.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use lexvault_core::note::{self, NoteError, NoteKeyError, NoteSigner, NoteVerifier};

struct GoNote {
    verifier_key: String,
    signer_key: String,
    bad_verifier_keys: Vec<String>,
    note: String,
}

fn read_go_note() -> GoNote {
    let path = support::vectors_dir().join("signed-note/go-note.txt");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut verifier_key = None;
    let mut signer_key = None;
    let mut bad_verifier_keys = Vec::new();
    let mut note: Option<String> = None;
    let mut in_note = false;
    for line in text.lines() {
        if in_note {
            if line == "-----END NOTE-----" {
                in_note = false;
            } else {
                let n = note.get_or_insert_with(String::new);
                n.push_str(line);
                n.push('\n');
            }
            continue;
        }
        if line == "-----BEGIN NOTE-----" {
            assert!(note.is_none(), "one note per file");
            in_note = true;
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (key, value) = line
            .split_once(": ")
            .unwrap_or_else(|| panic!("bad line {line:?}"));
        match key {
            "verifier-key" => verifier_key = Some(value.to_owned()),
            "signer-key" => signer_key = Some(value.to_owned()),
            "bad-verifier-key" => bad_verifier_keys.push(value.to_owned()),
            other => panic!("unknown key {other:?} in go-note.txt"),
        }
    }
    assert!(!in_note, "unterminated note");
    GoNote {
        verifier_key: verifier_key.unwrap(),
        signer_key: signer_key.unwrap(),
        bad_verifier_keys,
        note: note.unwrap(),
    }
}

#[test]
fn go_note_cases() {
    let v = read_go_note();
    let mut cases = 0;

    // The verifier key parses, and prints back byte for byte.
    let verifier: NoteVerifier = v.verifier_key.parse().unwrap();
    assert_eq!(verifier.to_string(), v.verifier_key);
    assert_eq!(verifier.name(), "PeterNeumann");
    assert_eq!(verifier.key_id(), 0xc74f_20a3);
    cases += 1;

    // The signer key parses, prints back byte for byte, and matches the
    // verifier key.
    let signer = NoteSigner::from_signer_key(&v.signer_key).unwrap();
    assert_eq!(signer.to_signer_key().expose_secret(), v.signer_key);
    assert_eq!(signer.verifier(), verifier);
    cases += 1;

    // The bad verifier keys are rejected: the first has a matching hash but
    // the wrong length; the second an unknown algorithm byte.
    assert_eq!(v.bad_verifier_keys.len(), 2);
    assert_eq!(
        v.bad_verifier_keys[0].parse::<NoteVerifier>(),
        Err(NoteKeyError::Malformed)
    );
    assert_eq!(
        v.bad_verifier_keys[1].parse::<NoteVerifier>(),
        Err(NoteKeyError::UnsupportedType)
    );
    cases += v.bad_verifier_keys.len();

    // Every proper substring of the verifier key, and the key with any one
    // byte incremented, is rejected. The same for the signer key.
    for key in [&v.verifier_key, &v.signer_key] {
        let parse = |s: &str| {
            if key == &v.verifier_key {
                s.parse::<NoteVerifier>().is_ok()
            } else {
                NoteSigner::from_signer_key(s).is_ok()
            }
        };
        let bytes = key.as_bytes();
        for i in 0..=bytes.len() {
            for j in i..=bytes.len() {
                if (i, j) == (0, bytes.len()) {
                    continue;
                }
                let sub = &key[i..j];
                assert!(!parse(sub), "substring {sub:?} accepted");
                cases += 1;
            }
        }
        for i in 0..bytes.len() {
            let mut b = bytes.to_vec();
            b[i] += 1;
            let s = String::from_utf8(b).unwrap();
            assert!(!parse(&s), "{s:?} accepted");
            cases += 1;
        }
    }

    // Signing the note's text with the signer key gives the note exactly.
    let (text, _) = v.note.split_once("\n\n").unwrap();
    let text = format!("{text}\n");
    assert_eq!(text.lines().count(), 2);
    assert_eq!(note::sign_note(&text, &signer).unwrap(), v.note);
    cases += 1;

    // The note opens with the verifier key and yields exactly that text.
    let opened = note::open_note(v.note.as_bytes(), std::slice::from_ref(&verifier)).unwrap();
    assert_eq!(opened.text(), text);
    assert_eq!(opened.verified_by(), std::slice::from_ref(&verifier));
    assert_eq!(opened.to_text(), v.note);
    cases += 1;

    // Without the key it does not open; with a changed text it fails.
    assert_eq!(
        note::open_note(v.note.as_bytes(), &[]),
        Err(NoteError::NoKnownSignature)
    );
    let tampered = v.note.replacen("problem,", "problem;", 1);
    assert_eq!(
        note::open_note(tampered.as_bytes(), &[verifier]),
        Err(NoteError::InvalidSignature)
    );
    cases += 2;

    // 66-character verifier key, 78-character signer key.
    let substrings = |n: usize| (n + 1) * (n + 2) / 2 - 1;
    let expected = 2 + 2 + substrings(66) + 66 + substrings(78) + 78 + 2 + 2;
    println!("signed-note vectors: {cases} cases");
    assert_eq!(cases, expected);
}
