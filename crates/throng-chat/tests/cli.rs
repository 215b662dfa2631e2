//! The binary's command line: `--help`, and a bad flag is a clear error with exit code 2.

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_throng-chat"))
}

#[test]
fn help_lists_the_flags() {
    let out = bin().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--listen",
        "--max-frame",
        "--post-rate",
        "--dump-interval",
        "--dump-file",
        "--outbound-queue",
    ] {
        assert!(text.contains(flag), "{flag} missing from --help");
    }
}

#[test]
fn a_bad_flag_is_a_clear_error_with_exit_code_2() {
    let out = bin().args(["--post-rate", "zero"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("--post-rate"), "{err}");

    let out = bin().arg("--no-such-flag").output().unwrap();
    assert_eq!(out.status.code(), Some(2));

    let out = bin().args(["--dump-interval", "0s"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("positive"));
}
