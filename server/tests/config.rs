//! Settings resolution: defaults, precedence of file < environment < flag,
//! and the messages of invalid settings.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use lexvault_server::config::{
    Command, ConfigError, DEFAULT_LOG, Origin, Settings, TlsFiles, load_from, parse_byte_size,
};

/// A fake environment.
fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    move |name| map.get(name).cloned()
}

fn load(args: &[&str], vars: &[(&str, &str)]) -> Result<(Command, Settings), ConfigError> {
    let mut full = vec!["lexvault-server"];
    full.extend_from_slice(args);
    load_from(full, &env(vars))
}

fn settings(args: &[&str], vars: &[(&str, &str)]) -> Settings {
    load(args, vars).unwrap().1
}

fn error(args: &[&str], vars: &[(&str, &str)]) -> ConfigError {
    load(args, vars).unwrap_err()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

#[test]
fn defaults() {
    let (command, settings) = load(&[], &[]).unwrap();
    assert_eq!(command, Command::Serve);
    assert_eq!(settings, Settings::default());
    assert_eq!(settings.listen, addr("127.0.0.1:8080"));
    assert_eq!(settings.data_dir, PathBuf::from("./lexvault-data"));
    assert_eq!(settings.max_upload_bytes, 5 * 1024 * 1024 * 1024);
    assert_eq!(settings.request_window_secs, 300);
    assert_eq!(settings.tls, None);
    assert_eq!(settings.log, DEFAULT_LOG);
    assert_eq!(settings.login_attempts_per_hour, 10);
}

#[test]
fn subcommands() {
    assert_eq!(load(&["serve"], &[]).unwrap().0, Command::Serve);
    let (command, settings) = load(
        &[
            "init-admin",
            "--bundle",
            "admin.bundle",
            "--listen",
            "127.0.0.1:9",
        ],
        &[],
    )
    .unwrap();
    assert_eq!(
        command,
        Command::InitAdmin {
            bundle: PathBuf::from("admin.bundle")
        }
    );
    assert_eq!(settings.listen, addr("127.0.0.1:9"));
    // The bundle is required.
    assert!(matches!(error(&["init-admin"], &[]), ConfigError::Cli(_)));
}

#[test]
fn help_and_version_are_clap_errors_for_main_to_exit_with() {
    let ConfigError::Cli(help) = error(&["--help"], &[]) else {
        panic!("--help is not a Cli error");
    };
    assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
    let text = help.to_string();
    for expected in [
        "--listen",
        "LEXVAULT_LISTEN",
        "Examples:",
        "init-admin",
        "max_upload_bytes = \"5GiB\"",
    ] {
        assert!(text.contains(expected), "{expected} missing from\n{text}");
    }
    let ConfigError::Cli(version) = error(&["--version"], &[]) else {
        panic!("--version is not a Cli error");
    };
    assert_eq!(version.kind(), clap::error::ErrorKind::DisplayVersion);
    assert!(matches!(
        error(&["--no-such-flag"], &[]),
        ConfigError::Cli(_)
    ));
}

#[test]
fn file_then_env_then_flag() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "server.toml",
        "listen = \"127.0.0.1:1001\"\nrequest_window_secs = 10\nlog = \"warn\"\n\
         login_attempts_per_hour = 3\n",
    );
    let config = config.to_str().unwrap();

    // The file alone.
    let from_file = settings(&["--config", config], &[]);
    assert_eq!(from_file.listen, addr("127.0.0.1:1001"));
    assert_eq!(from_file.request_window_secs, 10);
    assert_eq!(from_file.log, "warn");
    assert_eq!(from_file.login_attempts_per_hour, 3);

    // The environment beats the file; settings it does not give stay.
    let vars = [
        ("LEXVAULT_LISTEN", "127.0.0.1:1002"),
        ("LEXVAULT_REQUEST_WINDOW_SECS", "20"),
    ];
    let from_env = settings(&["--config", config], &vars);
    assert_eq!(from_env.listen, addr("127.0.0.1:1002"));
    assert_eq!(from_env.request_window_secs, 20);
    assert_eq!(from_env.log, "warn");

    // The flag beats both.
    let from_flag = settings(
        &[
            "--config",
            config,
            "--listen",
            "127.0.0.1:1003",
            "--log",
            "debug",
        ],
        &vars,
    );
    assert_eq!(from_flag.listen, addr("127.0.0.1:1003"));
    assert_eq!(from_flag.request_window_secs, 20);
    assert_eq!(from_flag.log, "debug");
    assert_eq!(from_flag.login_attempts_per_hour, 3);
}

#[test]
fn the_config_file_can_come_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "a.toml", "login_attempts_per_hour = 7\n");
    let other = write(dir.path(), "b.toml", "login_attempts_per_hour = 8\n");
    let vars = [("LEXVAULT_CONFIG", config.to_str().unwrap())];
    assert_eq!(settings(&[], &vars).login_attempts_per_hour, 7);
    // --config wins over LEXVAULT_CONFIG.
    assert_eq!(
        settings(&["--config", other.to_str().unwrap()], &vars).login_attempts_per_hour,
        8
    );
}

#[test]
fn an_empty_variable_counts_as_unset() {
    let settings = settings(&[], &[("LEXVAULT_LISTEN", ""), ("LEXVAULT_TLS_CERT", "")]);
    assert_eq!(settings.listen, addr("127.0.0.1:8080"));
    assert_eq!(settings.tls, None);
}

#[test]
fn an_unknown_file_key_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "server.toml",
        "listen = \"127.0.0.1:1\"\nlisten_port = 80\n",
    );
    let error = error(&["--config", config.to_str().unwrap()], &[]);
    assert!(matches!(error, ConfigError::ConfigFile { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("listen_port"), "{message}");
    assert!(message.contains("line 2"), "{message}");
    assert!(message.contains("--config"), "{message}");
}

#[test]
fn a_missing_config_file_is_named_with_its_source() {
    let error = error(&[], &[("LEXVAULT_CONFIG", "/no/such/lexvault.toml")]);
    let message = error.to_string();
    assert!(message.contains("/no/such/lexvault.toml"), "{message}");
    assert!(message.contains("LEXVAULT_CONFIG"), "{message}");
}

#[test]
fn a_file_value_of_the_wrong_type_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "server.toml", "listen = 8080\n");
    let error = error(&["--config", config.to_str().unwrap()], &[]);
    let ConfigError::Invalid { origin, .. } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(
        origin,
        &Origin::File {
            path: config.clone(),
            key: "listen"
        }
    );
    assert!(error.to_string().contains("key `listen`"), "{error}");
}

/// Each invalid value is reported with the flag or variable it came from.
#[test]
fn invalid_values_name_their_flag_or_variable() {
    let cases: &[(&str, &str, &str)] = &[
        ("--listen", "LEXVAULT_LISTEN", "localhost"),
        ("--max-upload-bytes", "LEXVAULT_MAX_UPLOAD_BYTES", "0"),
        ("--max-upload-bytes", "LEXVAULT_MAX_UPLOAD_BYTES", "5 gigs"),
        ("--request-window-secs", "LEXVAULT_REQUEST_WINDOW_SECS", "4"),
        (
            "--request-window-secs",
            "LEXVAULT_REQUEST_WINDOW_SECS",
            "3601",
        ),
        (
            "--request-window-secs",
            "LEXVAULT_REQUEST_WINDOW_SECS",
            "five",
        ),
        ("--log", "LEXVAULT_LOG", "lexvault_server=loud"),
        (
            "--login-attempts-per-hour",
            "LEXVAULT_LOGIN_ATTEMPTS_PER_HOUR",
            "0",
        ),
        (
            "--login-attempts-per-hour",
            "LEXVAULT_LOGIN_ATTEMPTS_PER_HOUR",
            "-3",
        ),
    ];
    for &(flag, var, value) in cases {
        let from_flag = error(&[&format!("{flag}={value}")], &[]);
        assert!(
            matches!(&from_flag, ConfigError::Invalid { origin: Origin::Flag(f), .. } if *f == flag),
            "{flag}={value}: {from_flag:?}"
        );
        let message = from_flag.to_string();
        assert!(
            message.contains(flag) && message.contains(value),
            "{message}"
        );

        let from_env = error(&[], &[(var, value)]);
        assert!(
            matches!(&from_env, ConfigError::Invalid { origin: Origin::Env(v), .. } if *v == var),
            "{var}={value}: {from_env:?}"
        );
        assert!(from_env.to_string().contains(var), "{from_env}");
    }
}

#[test]
fn an_overridden_invalid_value_still_fails() {
    let error = error(
        &["--listen", "127.0.0.1:1"],
        &[("LEXVAULT_LISTEN", "not an address")],
    );
    assert!(error.to_string().contains("LEXVAULT_LISTEN"), "{error}");
}

#[test]
fn the_request_window_bounds_are_inclusive() {
    assert_eq!(
        settings(&["--request-window-secs", "5"], &[]).request_window_secs,
        5
    );
    assert_eq!(
        settings(&["--request-window-secs", "3600"], &[]).request_window_secs,
        3600
    );
}

#[test]
fn upload_sizes_take_units() {
    let max = |value: &str| settings(&["--max-upload-bytes", value], &[]).max_upload_bytes;
    assert_eq!(max("1048576"), 1 << 20);
    assert_eq!(max("512MiB"), 512 << 20);
    assert_eq!(max("5GiB"), 5 << 30);
    assert_eq!(max("2 gib"), 2 << 30);
    assert_eq!(max("3KB"), 3_000);
    assert_eq!(
        settings(&[], &[("LEXVAULT_MAX_UPLOAD_BYTES", "1TiB")]).max_upload_bytes,
        1 << 40
    );

    let dir = tempfile::tempdir().unwrap();
    let as_string = write(dir.path(), "s.toml", "max_upload_bytes = \"64KiB\"\n");
    let as_integer = write(dir.path(), "i.toml", "max_upload_bytes = 4096\n");
    assert_eq!(
        settings(&["--config", as_string.to_str().unwrap()], &[]).max_upload_bytes,
        64 << 10
    );
    assert_eq!(
        settings(&["--config", as_integer.to_str().unwrap()], &[]).max_upload_bytes,
        4096
    );

    for bad in [
        "",
        "GiB",
        "1.5GiB",
        "5 GiBs",
        "-1",
        "99999999999TiB",
        "18446744073709551616",
    ] {
        assert_eq!(parse_byte_size(bad), None, "{bad:?}");
    }
    assert_eq!(parse_byte_size("18446744073709551615"), Some(u64::MAX));
}

#[test]
fn tls_needs_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let cert = write(dir.path(), "cert.pem", "cert");
    let key = write(dir.path(), "key.pem", "key");
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());

    let only_cert = error(&["--tls-cert", cert], &[]);
    let ConfigError::TlsIncomplete { given, .. } = &only_cert else {
        panic!("{only_cert:?}");
    };
    assert_eq!(given, &Origin::Flag("--tls-cert"));
    assert!(only_cert.to_string().contains("--tls-key"), "{only_cert}");

    let only_key = error(&[], &[("LEXVAULT_TLS_KEY", key)]);
    assert!(
        matches!(only_key, ConfigError::TlsIncomplete { .. }),
        "{only_key:?}"
    );
    assert!(only_key.to_string().contains("--tls-cert"), "{only_key}");

    // Both, from different sources.
    let both = settings(&["--tls-cert", cert], &[("LEXVAULT_TLS_KEY", key)]);
    assert_eq!(
        both.tls,
        Some(TlsFiles {
            cert: PathBuf::from(cert),
            key: PathBuf::from(key)
        })
    );
}

#[test]
fn tls_files_must_exist() {
    let dir = tempfile::tempdir().unwrap();
    let key = write(dir.path(), "key.pem", "key");
    let missing = dir.path().join("missing.pem");
    let error = error(
        &[
            "--tls-cert",
            missing.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        matches!(
            &error,
            ConfigError::Invalid {
                origin: Origin::Flag("--tls-cert"),
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("missing.pem"), "{error}");
}

#[test]
fn relative_paths_in_the_file_are_relative_to_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "cert.pem", "cert");
    write(dir.path(), "key.pem", "key");
    std::fs::create_dir(dir.path().join("data")).unwrap();
    let config = write(
        dir.path(),
        "server.toml",
        "tls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\ndata_dir = \"data\"\n",
    );
    let settings = settings(&["--config", config.to_str().unwrap()], &[]);
    assert_eq!(
        settings.tls,
        Some(TlsFiles {
            cert: dir.path().join("cert.pem"),
            key: dir.path().join("key.pem")
        })
    );
    assert_eq!(settings.data_dir, dir.path().join("data"));
}

#[test]
fn the_data_dir_must_be_creatable() {
    let dir = tempfile::tempdir().unwrap();
    // Exists: fine. Missing with an existing parent: fine (the server creates it).
    let existing = dir.path().to_str().unwrap();
    assert_eq!(
        settings(&["--data-dir", existing], &[]).data_dir,
        dir.path()
    );
    let fresh = dir.path().join("fresh");
    assert_eq!(
        settings(&["--data-dir", fresh.to_str().unwrap()], &[]).data_dir,
        fresh
    );

    // Missing parent.
    let orphan = dir.path().join("no/such/dir");
    let message = error(&[], &[("LEXVAULT_DATA_DIR", orphan.to_str().unwrap())]).to_string();
    assert!(message.contains("LEXVAULT_DATA_DIR"), "{message}");
    assert!(message.contains("mkdir -p"), "{message}");

    // A file in the way.
    let file = write(dir.path(), "file", "");
    let in_the_way = error(&["--data-dir", file.to_str().unwrap()], &[]);
    assert!(
        in_the_way.to_string().contains("not a directory"),
        "{in_the_way}"
    );
}
