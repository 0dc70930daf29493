//! Drives the real `lexvault` binary: keygen, encrypt, decrypt, and the
//! failure paths a user meets.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn lexvault(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lexvault"))
        .args(args)
        .output()
        .expect("run lexvault")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lexvault-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn recipient_of(key_file: &Path) -> String {
    let text = std::fs::read_to_string(key_file).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("# public key: "))
        .unwrap();
    line.trim_start_matches("# public key: ").to_owned()
}

#[test]
fn encrypt_then_decrypt_round_trips_binary_and_armored() {
    let dir = scratch("roundtrip");
    let key = dir.join("client.key");
    assert!(lexvault(&["keygen", "-o", p(&key)]).status.success());
    let recipient = recipient_of(&key);
    assert!(recipient.starts_with("age1"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "identity file must not be readable by others"
        );
    }

    // Crosses a 64 KiB chunk boundary.
    let plain: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let input = dir.join("settlement.pdf");
    std::fs::write(&input, &plain).unwrap();

    for armor in [false, true] {
        let sealed = dir.join(if armor { "s.age.asc" } else { "s.age" });
        let mut args = vec!["encrypt", "-r", &recipient, "-o", p(&sealed)];
        if armor {
            args.push("-a");
        }
        args.push(p(&input));
        let out = lexvault(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bytes = std::fs::read(&sealed).unwrap();
        assert_eq!(
            bytes.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----"),
            armor
        );
        assert!(
            !bytes.windows(16).any(|w| w == &plain[1000..1016]),
            "plaintext leaked"
        );

        let opened = dir.join("opened.pdf");
        let out = lexvault(&["decrypt", "-i", p(&key), "-o", p(&opened), p(&sealed)]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(std::fs::read(&opened).unwrap(), plain);
    }
}

#[test]
fn wrong_identity_fails_and_leaves_no_output() {
    let dir = scratch("wrong");
    let (alice, mallory) = (dir.join("alice.key"), dir.join("mallory.key"));
    assert!(lexvault(&["keygen", "-o", p(&alice)]).status.success());
    assert!(lexvault(&["keygen", "-o", p(&mallory)]).status.success());
    let input = dir.join("draft.txt");
    std::fs::write(&input, b"privileged").unwrap();
    let sealed = dir.join("draft.age");
    let recipient = recipient_of(&alice);
    assert!(
        lexvault(&["encrypt", "-r", &recipient, "-o", p(&sealed), p(&input)])
            .status
            .success()
    );

    let opened = dir.join("opened.txt");
    let out = lexvault(&["decrypt", "-i", p(&mallory), "-o", p(&opened), p(&sealed)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot decrypt"));
    assert!(!opened.exists());
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        4,
        "no partial file left behind"
    );
}

#[test]
fn usage_errors_exit_2_with_a_hint() {
    for args in [
        &["frobnicate"][..],
        &["encrypt"],
        &["decrypt"],
        &["encrypt", "--bogus"],
    ] {
        let out = lexvault(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--help"),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = lexvault(&["encrypt", "-r", "age1notarecipient"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a valid age recipient"));
}
